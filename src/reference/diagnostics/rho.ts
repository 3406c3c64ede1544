// Float64 twin of the adaptive base rate ρ (SPEC §5; GPU: src/diagnostics/rho.ts), by brute force: for every
// (sequence, step) it forms each row J_q = ∂h_{t,q}/∂θ explicitly, one column per trainable parameter p from the
// cell's one-step tangent along the unit direction e_p with a zero state tangent (h_{t-1}, x_t held fixed), and
// takes the Rayleigh quotient ρ_q = Σ_p J_qp² η_p / Σ_p J_qp² directly (η̄ where Σ_p J_qp² = 0). No factorisation
// of J is used, so it checks the GPU kernel's derivation as well as its arithmetic.
import { TensorViews, type FloatArray, type ParamLayout } from '../../model/params.ts';
import { stateWidth } from '../../model/cells.ts';
import { checkBatch, inputAt, prepareModel, rollout, zeroState, type PreparedModel, type RecurrentState, type SequenceBatch, type StepRecord } from '../../model/f64/index.ts';

export interface RhoReferenceResult {
  /** ρ [B, T, H]. */
  rho: Float64Array;
  /** Σ_p J_qp² |η_p - ρ_q| / Σ_p J_qp² [B, T, H]: the spread of the rates ρ averages, for error bounds. */
  spread: Float64Array;
  /** η̄: the plain mean of η over the trainable tensors. */
  etaBar: number;
}

export interface RhoReferenceInput extends SequenceBatch {
  /**
   * Forward states [T, B, W, H] (slot t = state after step t, W = 2 for lstm: h then c) to take h_{t-1} from; when
   * absent, the sequences are rolled out here in float64.
   */
  states?: FloatArray;
}

function trainableIndices(layout: ParamLayout): number[] {
  return layout.tensors.filter((t) => t.trainable).flatMap((t) => Array.from({ length: t.size }, (_, i) => t.offset + i));
}

/** Records of sequence b, each step recomputed from the given state before it. */
function recordsFrom(model: PreparedModel, data: RhoReferenceInput, b: number): StepRecord[] {
  if (!data.states) return rollout(model, data, b);
  const H = model.hiddenSize;
  const W = stateWidth(model.layout.config.cell);
  const slot = (t: number, w: number) => Float64Array.from(data.states!.subarray(((t * data.batch + b) * W + w) * H, ((t * data.batch + b) * W + w + 1) * H));
  return Array.from({ length: data.steps }, (_, t) => {
    let prev = zeroState(model);
    if (t > 0) prev = W === 2 ? { h: slot(t - 1, 0), c: slot(t - 1, 1) } : { h: slot(t - 1, 0) };
    return model.cell.step(model.p, inputAt(model, data, b, t), prev);
  });
}

export function referenceRho(layout: ParamLayout, params: FloatArray, data: RhoReferenceInput, preconditioner: Float64Array): RhoReferenceResult {
  const model = prepareModel(layout, params);
  checkBatch(model, data, false);
  const needed = data.steps * data.batch * stateWidth(model.layout.config.cell) * model.hiddenSize;
  if (data.states && data.states.length < needed) throw new Error(`states has ${data.states.length} values; [T,B,W,H] needs ${needed}`);
  const indices = trainableIndices(layout);
  const etaBar = indices.reduce((sum, p) => sum + preconditioner[p]!, 0) / indices.length;
  const H = model.hiddenSize;
  const rho = new Float64Array(data.batch * data.steps * H);
  const spread = new Float64Array(rho.length);
  const direction = new Float64Array(layout.totalSize);
  const dir = new TensorViews(layout, direction);
  const jacobian = new Float64Array(indices.length * H); // column p: ∂h_t/∂θ_p

  for (let b = 0; b < data.batch; b++) {
    recordsFrom(model, data, b).forEach((rec, t) => {
      const zero: RecurrentState = zeroState(model);
      indices.forEach((p, column) => {
        direction[p] = 1;
        jacobian.set(model.cell.tangent(model.p, dir, rec, zero).h, column * H);
        direction[p] = 0;
      });
      for (let q = 0; q < H; q++) {
        let weighted = 0;
        let total = 0;
        indices.forEach((p, column) => {
          const j2 = jacobian[column * H + q]! ** 2;
          weighted += j2 * preconditioner[p]!;
          total += j2;
        });
        const value = total > 0 ? weighted / total : etaBar;
        let deviation = 0;
        indices.forEach((p, column) => (deviation += jacobian[column * H + q]! ** 2 * Math.abs(preconditioner[p]! - value)));
        const at = (b * data.steps + t) * H + q;
        rho[at] = value;
        spread[at] = total > 0 ? deviation / total : 0;
      }
    });
  }
  return { rho, spread, etaBar };
}
