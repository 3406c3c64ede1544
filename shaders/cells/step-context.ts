// What a cell's WGSL snippets are generated from: the cell, its options, and how to name a parameter's offset.
import type { CellKind } from '../../src/model/cells.ts';

export interface StepContext {
  cell: CellKind;
  layernorm: boolean;
  /** LayerNorm module name of this cell (`ln`, `ln_h`, `ln_cand`). */
  lnPrefix: string;
  /** WGSL expression for the flat-buffer offset of a tensor, e.g. o('Wx.weight') → 'params.o_Wx_weight'. */
  o: (tensor: string) => string;
}

/**
 * The candidate's adjoint through tanh and (optionally) LayerNorm: from dg = ∂L/∂g to `da_g` = ∂L/∂a_g, plus the
 * per-unit terms whose sums over (b, t) are the LayerNorm weight and bias gradients (`dln_w`, `dln_b`).
 */
export function candidateBackward(c: StepContext, dg: string): string {
  if (!c.layernorm) return `  let dg_hat = ${dg} * g_slope;
  let da_g = dg_hat;
  let dln_w = 0.0;
  let dln_b = 0.0;`;
  return `  let dg_hat = ${dg} * g_slope;
  let dln_w = dg_hat * ln.n;
  let dln_b = dg_hat;
  let da_g = layer_norm_backward(lid, dg_hat * P[${c.o(`${c.lnPrefix}.weight`)} + q], ln.n, ln.inv_std, live);`;
}
