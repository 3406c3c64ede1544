// The adaptive base rate ρ of SPEC §5 for each layer of a stack, by brute force as src/reference/diagnostics/rho.ts:
// J_q = ∂h^{(k)}_{t,q}/∂θ is layer k's instantaneous (one-step) sensitivity, its previous state and its input at
// step t held fixed, so only layer k's own parameters have a column; ρ_q = Σ_p J_qp² η_p / Σ_p J_qp² (η̄, the mean of
// η over every parameter, where Σ_p J_qp² = 0). How ρ should treat the layers below is not fixed by SPEC §13; this is
// the one-step reading, the same as for a single cell.
import type { RecurrentState } from '../types.ts';
import { torchParams, type TorchParams } from './config.ts';
import { cellOf, type TorchForward } from './stack.ts';

/** ρ per layer [B,T,H]; `preconditioner` η has the parameters' layout (SGD: lr everywhere). */
export function torchRho(params: TorchParams, forward: TorchForward, preconditioner: Float64Array): Float64Array[] {
  const { layout } = params;
  if (preconditioner.length !== layout.totalSize) throw new Error(`preconditioner has ${preconditioner.length} values; the parameters have ${layout.totalSize}`);
  const etaBar = preconditioner.reduce((s, v) => s + v, 0) / preconditioner.length;
  const hidden = layout.config.hiddenSize;
  const cell = cellOf(params);
  const direction = torchParams(layout);
  return forward.records.map((layer, k) => {
    const own = layout.tensors.filter((t) => t.name.endsWith(`_l${k}`)).flatMap((t) => Array.from({ length: t.size }, (_, i) => t.offset + i));
    const rho = new Float64Array(forward.batch * forward.steps * hidden);
    layer.forEach((sequence, b) => sequence.forEach((rec, t) => {
      const zero: RecurrentState = { h: new Float64Array(hidden), ...(rec.prev.c ? { c: new Float64Array(hidden) } : {}) };
      const weighted = new Float64Array(hidden);
      const total = new Float64Array(hidden);
      for (const p of own) {
        direction.data[p] = 1;
        const column = cell.tangent(params.layers[k]!, direction.layers[k]!, rec, zero, null).h;
        direction.data[p] = 0;
        for (let q = 0; q < hidden; q++) {
          weighted[q] = weighted[q]! + column[q]! ** 2 * preconditioner[p]!;
          total[q] = total[q]! + column[q]! ** 2;
        }
      }
      for (let q = 0; q < hidden; q++) rho[(b * forward.steps + t) * hidden + q] = total[q]! > 0 ? weighted[q]! / total[q]! : etaBar;
    }));
    return rho;
  });
}
