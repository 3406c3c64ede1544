// Data for a model with SPEC §13's readout: X [N, T, D] and targets in the shape its loss takes, laid out the way
// the GPU loss reads them ([N, T, K] for mse, class indices [N, T] for ce). With the loss at the last step the file
// may hold one target per sequence (mse [N, K], ce [N]); it is placed at t = T-1 (the other steps are never read).
import { readNpyFile } from '../io/npy.ts';
import type { ReadoutLoss } from '../cells/backward.ts';
import { DatasetError, type SequenceData } from './dataset.ts';

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

export function loadHeadDataset(xPath: string, yPath: string, outputs: number, readout: ReadoutLoss): SequenceData {
  const xArray = readNpyFile(xPath);
  if (xArray.shape.length !== 3) throw new DatasetError(`X file ${xPath} has shape ${shapeText(xArray.shape)}; lwin expects X of shape [N, T, D] (sequences, time steps, input features)`);
  const [count, steps, inputSize] = xArray.shape as [number, number, number];
  const x = Float32Array.from(xArray.data);
  if (!x.every(Number.isFinite)) throw new DatasetError(`X file ${xPath} holds a non-finite value; lwin needs finite inputs`);
  const yArray = readNpyFile(yPath);
  const width = readout.loss === 'mse' ? outputs : 1;
  const perStep = readout.loss === 'mse' ? [count, steps, outputs] : [count, steps];
  const perSequence = readout.loss === 'mse' ? [count, outputs] : [count];
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  const accepted = readout.lossSteps === 'last' ? [perStep, perSequence] : [perStep];
  // mse with K = 1 also takes the paper's [N, T] (and [N] at the last step)
  if (readout.loss === 'mse' && outputs === 1) accepted.push(readout.lossSteps === 'last' ? [count] : [count, steps]);
  const shape = yArray.shape;
  if (!accepted.some((a) => same(shape, a))) {
    const what = readout.loss === 'ce' ? `class indices in [0, ${outputs})` : `${outputs} target${outputs === 1 ? '' : 's'} per step`;
    throw new DatasetError(
      `Y file ${yPath} has shape ${shapeText(shape)}; the ${readout.loss} loss at ${readout.lossSteps} steps of this model (K=${outputs}) takes ${what} ` +
        `of shape ${accepted.map(shapeText).join(' or ')} for X ${shapeText(xArray.shape)}`,
    );
  }
  const values = Float64Array.from(yArray.data);
  if (readout.loss === 'ce') {
    const bad = values.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= outputs);
    if (bad >= 0) throw new DatasetError(`Y file ${yPath} element ${bad} is ${values[bad]}; the ce loss takes class indices 0…${outputs - 1} (the readout has K=${outputs} rows)`);
  } else if (!values.every(Number.isFinite)) throw new DatasetError(`Y file ${yPath} holds a non-finite value; lwin needs finite targets`);
  const y = new Float32Array(count * steps * width);
  if (values.length === y.length) y.set(values);
  else for (let b = 0; b < count; b++) y.set(values.subarray(b * width, (b + 1) * width), (b * steps + steps - 1) * width);
  return { x, y, count, steps, inputSize, source: `${xPath} + ${yPath}` };
}
