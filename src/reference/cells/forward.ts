// Float64 forward pass over a batch from the zero state: hidden states, outputs, loss and SPEC §4 terms.
import type { FloatArray, ParamLayout } from '../../model/params.ts';
import { meanSquaredError, readout } from './readout.ts';
import { checkBatch, prepareModel, rollout, type SequenceBatch } from '../../model/f64/sequence.ts';
import { INTERMEDIATE_NAMES, stateWidth } from '../../model/cells.ts';
import type { IntermediateValues, RecurrentState } from '../../model/f64/types.ts';

export interface ForwardResult {
  batch: number;
  steps: number;
  hiddenSize: number;
  /** h [B,T,H]. */
  h: Float64Array;
  /** c [B,T,H] for lstm, null otherwise. */
  c: Float64Array | null;
  /** ŷ [B,T]. */
  yHat: Float64Array;
  /** MSE over all B·T when Y was given, else null. */
  loss: number | null;
  /** [B,T,H] each; the names of INTERMEDIATE_NAMES[cell]. */
  intermediates: IntermediateValues;
}

export function referenceForward(layout: ParamLayout, params: FloatArray, data: SequenceBatch): ForwardResult {
  const model = prepareModel(layout, params);
  checkBatch(model, data, false);
  const { batch: bCount, steps: tCount } = data;
  const n = model.hiddenSize;
  const h = new Float64Array(bCount * tCount * n);
  const c = stateWidth(layout.config.cell) === 2 ? new Float64Array(bCount * tCount * n) : null;
  const yHat = new Float64Array(bCount * tCount);
  const names = INTERMEDIATE_NAMES[layout.config.cell];
  const intermediates: IntermediateValues = {};
  for (const name of names) intermediates[name] = new Float64Array(bCount * tCount * n);

  for (let b = 0; b < bCount; b++) {
    const records = rollout(model, data, b);
    records.forEach((rec, t) => {
      const row = b * tCount + t;
      h.set(rec.next.h, row * n);
      if (c) c.set(rec.next.c!, row * n);
      yHat[row] = readout(model.p, rec.next.h);
      const terms = model.cell.intermediates(model.p, rec);
      for (const name of names) intermediates[name]!.set(terms[name]!, row * n);
    });
  }
  const loss = data.y ? meanSquaredError(yHat, data.y) : null;
  return { batch: bCount, steps: tCount, hiddenSize: n, h, c, yHat, loss, intermediates };
}

/** One intermediate of a forward result, with a clear error when the cell does not have it. */
export function intermediate(result: ForwardResult, name: keyof IntermediateValues): Float64Array {
  const values = result.intermediates[name];
  if (!values) throw new Error(`this cell records no "${name}"; it records ${Object.keys(result.intermediates).join(', ')}`);
  return values;
}

/** One step of the cell from a given state: (h_{t-1}[, c_{t-1}], x_t) → h_t[, c_t] and the SPEC §4 terms, each [H]. */
export function referenceStep(
  layout: ParamLayout,
  params: FloatArray,
  x: FloatArray,
  prev: RecurrentState,
): { next: RecurrentState; yHat: number; intermediates: IntermediateValues } {
  const model = prepareModel(layout, params);
  if (x.length !== model.inputSize) throw new Error(`x_t has ${x.length} values; D = ${model.inputSize}`);
  const rec = model.cell.step(model.p, Float64Array.from(x), prev);
  return { next: rec.next, yHat: readout(model.p, rec.next.h), intermediates: model.cell.intermediates(model.p, rec) };
}
