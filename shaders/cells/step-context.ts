// What a cell's WGSL snippets are generated from: the cell, its options, and how to name a parameter's offset.
// The snippets compute with the tile's V (shaders/cells/tile.ts) and reach parameters and other units only
// through its helpers, so one snippet serves every tile.
import type { CellKind } from '../../src/model/cells.ts';

export interface StepContext {
  cell: CellKind;
  layernorm: boolean;
  /** LayerNorm module name of this cell (`ln`, `ln_h`, `ln_cand`). */
  lnPrefix: string;
  /** WGSL expression for the flat-buffer offset of a tensor, e.g. o('Wx.weight') → 'params.o_Wx_weight'. */
  o: (tensor: string) => string;
  /** Adjoint blocks the backward step may keep in workgroup memory at once (shaders/cells/tile.ts). */
  resident?: number;
}

/** The pre-activation of one layer pair a = W x + b + U u: `pu(b) + row_x(W) + row_h(U)` (u = h_{t-1} or abuf). */
export function pairPre(c: StepContext, w: string, u: string, row: 'row_h' | 'row_a' = 'row_h'): string {
  return `pu(${c.o(`${w}.bias`)}) + row_x(${c.o(`${w}.weight`)}) + ${row}(${c.o(`${u}.weight`)})`;
}

/** With LayerNorm, `a_g` replaced by LN(a_g) (affine) and its `ln` kept; nothing without. */
export function candidateNorm(c: StepContext): string {
  if (!c.layernorm) return '';
  return `  let ln = layer_norm(a_g, live);
  a_g = select(V(0.0), ln.n * pu(${c.o(`${c.lnPrefix}.weight`)}) + pu(${c.o(`${c.lnPrefix}.bias`)}), live);`;
}

/**
 * The candidate's adjoint through tanh and (optionally) LayerNorm: from dg = ∂L/∂g to `da_g` = ∂L/∂a_g, plus the
 * per-unit terms whose sums over (b, t) are the LayerNorm weight and bias gradients (`dln_w`, `dln_b`).
 */
export function candidateBackward(c: StepContext, dg: string): string {
  if (!c.layernorm) return `  let dg_hat = ${dg} * g_slope;
  let da_g = select(V(0.0), dg_hat, live);
  let dln_w = V(0.0);
  let dln_b = V(0.0);`;
  return `  let dg_hat = ${dg} * g_slope;
  let dln_w = dg_hat * ln.n;
  let dln_b = dg_hat;
  let da_g = select(V(0.0), layer_norm_backward(dg_hat * pu(${c.o(`${c.lnPrefix}.weight`)}), ln.n, ln.inv_std, live), live);`;
}
