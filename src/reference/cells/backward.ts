// Float64 backpropagation through time: the exact gradient of the MSE loss w.r.t. every trainable parameter.
import { TensorViews, type FloatArray, type ParamLayout } from '../../model/params.ts';
import { meanSquaredError, meanSquaredErrorSlope, readout, readoutBackward } from './readout.ts';
import { checkBatch, prepareModel, rollout, zeroState, type SequenceBatch } from '../../model/f64/sequence.ts';

export interface GradientResult {
  loss: number;
  /** ∂L/∂θ in the layout (length layout.totalSize); 0 for non-trainable tensors and padding. */
  grad: Float64Array;
  /** ŷ [B,T]. */
  yHat: Float64Array;
}

export function referenceBackward(layout: ParamLayout, params: FloatArray, data: SequenceBatch): GradientResult {
  const model = prepareModel(layout, params);
  checkBatch(model, data, true);
  const y = data.y!;
  const { batch: bCount, steps: tCount } = data;
  const count = bCount * tCount;
  const grad = new TensorViews(layout, new Float64Array(layout.totalSize));
  const yHat = new Float64Array(count);

  for (let b = 0; b < bCount; b++) {
    const records = rollout(model, data, b);
    records.forEach((rec, t) => (yHat[b * tCount + t] = readout(model.p, rec.next.h)));
    // adjoint = ∂L/∂(state after step t) from steps > t; it starts at 0 after the last step.
    let adjoint = zeroState(model);
    for (let t = tCount - 1; t >= 0; t--) {
      const rec = records[t]!;
      const row = b * tCount + t;
      const fromOutput = readoutBackward(model.p, grad, rec.next.h, meanSquaredErrorSlope(yHat[row]!, y[row]!, count));
      const dh = adjoint.h.map((v, q) => v + fromOutput[q]!);
      adjoint = model.cell.backward(model.p, grad, rec, { ...adjoint, h: dh });
    }
  }
  return { loss: meanSquaredError(yHat, y), grad: grad.data, yHat };
}
