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
  /**
   * A sum over units the kernel adds to the step's LayerNorm mean (candidateNorm), as an independent value summed
   * beside it: the forward kernel's readout of the step before (shaders/recurrence/forward.ts). Absent elsewhere.
   */
  readout?: ExtraSum;
}

/** An extra sum over units: `let name = unit_sum(value)`, summed beside another sum of the step. */
export interface ExtraSum {
  name: string;
  value: string;
}

/**
 * The pre-activation of one layer pair a = W x + b + U u: `pre_sum(pu(b) + row_x(W) + row_h(U))` (u = h_{t-1} or
 * abuf). pre_sum is the identity (tilePrelude); it marks the sum as one value for the training forward to keep and
 * the backward to replay (shaders/cells/replay.ts), instead of its two dot products.
 */
export function pairPre(c: StepContext, w: string, u: string, row: 'row_h' | 'row_a' = 'row_h', mark = 'pre_sum'): string {
  return `${mark}(pu(${c.o(`${w}.bias`)}) + row_x(${c.o(`${w}.weight`)}) + ${row}(${c.o(`${u}.weight`)}))`;
}

/**
 * The candidate's pre-activation a_g (pairPre). With LayerNorm it is marked pre_norm instead of pre_sum: LayerNorm
 * (candidateNorm) takes it whole, and the backward replays LayerNorm's n̂ and 1/σ, never a_g itself, so the
 * training forward does not keep it (shaders/cells/replay.ts).
 */
export function candidatePre(c: StepContext, w: string, u: string, row: 'row_h' | 'row_a' = 'row_h'): string {
  return pairPre(c, w, u, row, c.layernorm ? 'pre_norm' : 'pre_sum');
}

/**
 * With LayerNorm, `a_g` replaced by LN(a_g) (affine) and its `ln` kept; nothing without. With `sum` (LayerNorm on),
 * also `sum.name` = unit_sum(sum.value), an independent sum over units (shared's gate) summed beside the mean, and
 * so is the context's readout.
 */
export function candidateNorm(c: StepContext, sum?: ExtraSum): string {
  if (!c.layernorm) return '';
  const extra = [sum, c.readout].filter((e): e is ExtraSum => e !== undefined);
  const fields = ['sum', 'sum2'];
  return `${extra.length > 0 ? `  let lna = layer_norm_and${extra.length > 1 ? '2' : ''}(a_g, live, ${extra.map((e) => e.value).join(', ')});
  let ln = lna.ln;
${extra.map((e, i) => `  let ${e.name} = lna.${fields[i]};`).join('\n')}` : '  let ln = layer_norm(a_g, live);'}
  a_g = select(V(0.0), ln.n * pu(${c.o(`${c.lnPrefix}.weight`)}) + pu(${c.o(`${c.lnPrefix}.bias`)}), live);`;
}

/**
 * The candidate's adjoint through tanh and (optionally) LayerNorm: from dg = ∂L/∂g to `da_g` = ∂L/∂a_g, plus the
 * per-unit terms whose sums over (b, t) are the LayerNorm weight and bias gradients (`dln_w`, `dln_b`). With
 * `sum`, also `sum.name` = unit_sum(sum.value), an independent sum over units the step needs (shared's gate):
 * with LayerNorm it is summed beside LayerNorm's two means, in one unit_sums3, the same sum with fewer barriers.
 */
export function candidateBackward(c: StepContext, dg: string, sum?: ExtraSum): string {
  if (!c.layernorm) return `  let dg_hat = ${dg} * g_slope;
  let da_g = select(V(0.0), dg_hat, live);
  let dln_w = V(0.0);
  let dln_b = V(0.0);${sum ? `\n  let ${sum.name} = unit_sum(${sum.value});` : ''}`;
  const dn = `dg_hat * pu(${c.o(`${c.lnPrefix}.weight`)})`;
  return `  let dg_hat = ${dg} * g_slope;
  let dln_w = dg_hat * ln.n;
  let dln_b = dg_hat;
${sum ? `  let lnb = layer_norm_backward_and(${dn}, ln.n, ln.inv_std, live, ${sum.value});
  let da_g = select(V(0.0), lnb.da, live);
  let ${sum.name} = lnb.sum;` : `  let da_g = select(V(0.0), layer_norm_backward(${dn}, ln.n, ln.inv_std, live), live);`}`;
}

/**
 * Uᵀ products of several adjoint blocks: `sum = Σ col_d(U_i, block i)` over `terms` (value, U offset), with at
 * most `resident` blocks in dbuf at once (H up to 1024 leaves room for one block in 16 KiB of workgroup memory).
 * Blocks are used from `first` on; `inUse` names a block an earlier call of this step may still be reading (no
 * barrier since), which gets a barrier before it is written. Uniform control flow only.
 */
export function columnProducts(terms: { value: string; u: string }[], resident: number, sum: string, first = 0, inUse = -1): string {
  const start = first + terms.length <= resident ? first : 0;
  const size = Math.max(1, Math.min(terms.length, resident - start));
  const lines = [`var ${sum} = V(0.0);`];
  for (let i = 0; i < terms.length; i += size) {
    const pass = terms.slice(i, i + size);
    const blocks = pass.map((_t, b) => start + b);
    if (i > 0 || (inUse >= 0 && blocks.includes(inUse))) lines.push('workgroupBarrier(); // earlier reads of dbuf are done');
    pass.forEach((t, b) => lines.push(`put_d(${start + b}u, ${t.value});`));
    lines.push('workgroupBarrier();');
    pass.forEach((t, b) => lines.push(`${sum} += col_d(${t.u}, ${start + b}u);`));
  }
  return lines.map((l) => `  ${l}`).join('\n');
}
