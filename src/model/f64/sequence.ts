// Batch plumbing shared by the forward, backward and tangent drivers: input slicing, zero state, one rollout.
import { stateWidth } from '../cells.ts';
import { TensorViews, describeConfig, type FloatArray, type ParamLayout } from '../params.ts';
import { cellReference } from './registry.ts';
import type { CellReference, Params, RecurrentState, StepRecord } from './types.ts';

export interface SequenceBatch {
  /** X [B,T,D], row-major. */
  x: FloatArray;
  /** Y [B,T] (equivalently [B,T,1]); needed for the loss and the gradient. */
  y?: FloatArray;
  batch: number;
  steps: number;
}

export interface PreparedModel {
  layout: ParamLayout;
  cell: CellReference;
  p: Params;
  inputSize: number;
  hiddenSize: number;
}

/** Float64 named views of `params` (copied only when given as Float32Array) and the cell's reference. */
export function prepareModel(layout: ParamLayout, params: FloatArray): PreparedModel {
  const data = params instanceof Float64Array ? params : Float64Array.from(params);
  return {
    layout,
    cell: cellReference(layout.config.cell),
    p: new TensorViews(layout, data),
    inputSize: layout.config.inputSize,
    hiddenSize: layout.config.hiddenSize,
  };
}

export function checkBatch(model: PreparedModel, data: SequenceBatch, needsTargets: boolean): void {
  const { batch: b, steps: t } = data;
  if (!Number.isInteger(b) || b < 1 || !Number.isInteger(t) || t < 1) throw new Error(`batch and steps must be positive integers, got B=${b}, T=${t}`);
  const expectedX = b * t * model.inputSize;
  if (data.x.length !== expectedX) {
    throw new Error(`X has ${data.x.length} values; [B,T,D] = [${b},${t},${model.inputSize}] needs ${expectedX} for the ${describeConfig(model.layout.config)} model`);
  }
  if (needsTargets && !data.y) throw new Error('Y is required for the loss and its gradient');
  if (data.y && data.y.length !== b * t) throw new Error(`Y has ${data.y.length} values; [B,T] = [${b},${t}] needs ${b * t}`);
}

export function zeroState(model: PreparedModel): RecurrentState {
  const h = new Float64Array(model.hiddenSize);
  return stateWidth(model.layout.config.cell) === 2 ? { h, c: new Float64Array(model.hiddenSize) } : { h };
}

/** x_{b,t} [D] as float64. */
export function inputAt(model: PreparedModel, data: SequenceBatch, b: number, t: number): Float64Array {
  const d = model.inputSize;
  const start = (b * data.steps + t) * d;
  return Float64Array.from(data.x.subarray(start, start + d));
}

/** Runs sequence b from the zero state; one record per step. */
export function rollout(model: PreparedModel, data: SequenceBatch, b: number): StepRecord[] {
  const records: StepRecord[] = [];
  let state = zeroState(model);
  for (let t = 0; t < data.steps; t++) {
    const rec = model.cell.step(model.p, inputAt(model, data, b, t), state);
    records.push(rec);
    state = rec.next;
  }
  return records;
}
