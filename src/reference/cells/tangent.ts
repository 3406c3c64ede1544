// Float64 forward-mode JVP (SPEC §7): v_t = (dh_t/dθ)[w] for every step, through the full Jacobians
// (gates, recurrent mixing, LayerNorm; LSTM through c as well).
import { stateWidth } from '../../model/cells.ts';
import { TensorViews, maskTrainable, type FloatArray, type ParamLayout } from '../../model/params.ts';
import { readoutTangent } from './readout.ts';
import { checkBatch, prepareModel, rollout, zeroState, type SequenceBatch } from '../../model/f64/sequence.ts';

export interface TangentResult {
  /** v [B,T,H]: tangent of h_t. */
  v: Float64Array;
  /** [B,T,H]: tangent of c_t for lstm, null otherwise. */
  vc: Float64Array | null;
  /** [B,T]: tangent of ŷ_t (including the readout's own direction). */
  yHatDot: Float64Array;
}

/** `direction` is layout-shaped; its entries on non-trainable tensors (s_const) and padding are ignored. */
export function referenceTangent(layout: ParamLayout, params: FloatArray, data: SequenceBatch, direction: FloatArray): TangentResult {
  const model = prepareModel(layout, params);
  checkBatch(model, data, false);
  const trainableDirection = Float64Array.from(direction);
  maskTrainable(layout, trainableDirection);
  const dir = new TensorViews(layout, trainableDirection);
  const { batch: bCount, steps: tCount } = data;
  const n = model.hiddenSize;
  const v = new Float64Array(bCount * tCount * n);
  const vc = stateWidth(layout.config.cell) === 2 ? new Float64Array(bCount * tCount * n) : null;
  const yHatDot = new Float64Array(bCount * tCount);

  for (let b = 0; b < bCount; b++) {
    let tangentState = zeroState(model); // the initial state is 0 whatever θ is
    rollout(model, data, b).forEach((rec, t) => {
      tangentState = model.cell.tangent(model.p, dir, rec, tangentState);
      const row = b * tCount + t;
      v.set(tangentState.h, row * n);
      if (vc) vc.set(tangentState.c!, row * n);
      yHatDot[row] = readoutTangent(model.p, dir, rec.next.h, tangentState.h);
    });
  }
  return { v, vc, yHatDot };
}
