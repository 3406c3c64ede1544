// Sequence data on the host: what the trainer and the diagnostics read, whether generated (task.ts) or the
// user's own X/Y .npy files (SPEC §1 "User data"). Everything is checked here once, with messages that name
// the file and say how to fix it, so later stages can trust shapes and finiteness.
import { NpyError, readNpyFile, type NpyArray } from '../io/npy.ts';

/** N sequences of T steps: inputs x[n,t,d] and targets y[n,t], C order, float32. */
export interface SequenceData {
  /** [N, T, D] */
  x: Float32Array;
  /** [N, T] */
  y: Float32Array;
  /** N */
  count: number;
  /** T */
  steps: number;
  /** D */
  inputSize: number;
  /** Where the data came from, for messages and reports (file names, or the task and its seed stream). */
  source: string;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** SPEC §1: validation sets hold min(1024, max(batch, 256)) sequences. */
export function validationSize(batch: number): number {
  if (!Number.isInteger(batch) || batch < 1) throw new DatasetError(`batch size must be a positive integer, got ${batch}`);
  return Math.min(1024, Math.max(batch, 256));
}

const shapeText = (shape: readonly number[]) => `(${shape.join(', ')})`;

interface NonFinite {
  count: number;
  first: number;
}

function findNonFinite(data: Float32Array | Float64Array): NonFinite {
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      // NaN - NaN and ±Inf - ±Inf are NaN; every finite v gives 0.
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

/** (n, t[, d]) of a flat index, in the array's own terms. */
function position(index: number, steps: number, inputSize: number | undefined): string {
  if (inputSize === undefined) return `(n=${Math.floor(index / steps)}, t=${index % steps})`;
  const n = Math.floor(index / (steps * inputSize));
  const t = Math.floor(index / inputSize) % steps;
  return `(n=${n}, t=${t}, d=${index % inputSize})`;
}

/** Refuses NaN and ±Infinity, counting them and naming the first; `original` is the float64 data before narrowing. */
function requireFinite(what: string, data: Float32Array, steps: number, inputSize: number | undefined, original?: Float64Array): void {
  const bad = findNonFinite(data);
  if (bad.count === 0) return;
  const value = original?.[bad.first] ?? data[bad.first]!;
  const firstValue = Number.isFinite(value) ? `${value}, beyond float32's range (|v| ≤ 3.4e38)` : String(value);
  const kinds = original ? 'NaN, ±Infinity, or beyond float32' : 'NaN or ±Infinity';
  const fix = original ? 'rescale or remove' : 'remove or impute';
  throw new DatasetError(
    `${what} holds ${bad.count} non-finite value${bad.count === 1 ? '' : 's'} (${kinds}); ` +
      `the first is ${firstValue} at ${position(bad.first, steps, inputSize)}. ` +
      `lwin trains on finite float32 data: ${fix} them first (e.g. np.nan_to_num, or drop the affected sequences).`,
  );
}

function requireNonEmpty(what: string, shape: readonly number[], axes: string): void {
  if (shape.some((d) => d === 0)) {
    throw new DatasetError(`${what} is empty: shape ${shapeText(shape)} ${axes}; it needs at least one sequence, one time step and one feature.`);
  }
}

/** Checks in-memory data (from a task, a caller or a file) and returns it unchanged. */
export function checkDataset(data: SequenceData): SequenceData {
  const { count, steps, inputSize, source } = data;
  const label = `dataset ${source}`;
  for (const [name, value] of [['count (N)', count], ['steps (T)', steps], ['inputSize (D)', inputSize]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new DatasetError(`${label}: ${name} must be a non-negative integer, got ${value}`);
  }
  requireNonEmpty(`${label}`, [count, steps, inputSize], 'as [N, T, D]');
  if (!(data.x instanceof Float32Array) || !(data.y instanceof Float32Array)) {
    throw new DatasetError(`${label}: x and y must be Float32Arrays (convert with Float32Array.from)`);
  }
  if (data.x.length !== count * steps * inputSize) {
    throw new DatasetError(`${label}: x has ${data.x.length} values but [N, T, D] = [${count}, ${steps}, ${inputSize}] needs ${count * steps * inputSize}`);
  }
  if (data.y.length !== count * steps) {
    throw new DatasetError(`${label}: y has ${data.y.length} values but [N, T] = [${count}, ${steps}] needs ${count * steps}`);
  }
  requireFinite(`${label}: x`, data.x, steps, inputSize);
  requireFinite(`${label}: y`, data.y, steps, undefined);
  return data;
}

/** float32 as is (no copy), float64 narrowed to float32. */
function asFloat32(array: NpyArray): Float32Array {
  return array.data instanceof Float32Array ? array.data : Float32Array.from(array.data);
}

function checkInputShape(path: string, shape: readonly number[]): void {
  if (shape.length === 3) return requireNonEmpty(`X file ${path}`, shape, 'as [N, T, D]');
  const fix =
    shape.length === 2
      ? 'for a single input feature add the last axis: np.save(path, x[..., None])'
      : 'reshape it to (sequences, time steps, features) in numpy before saving';
  throw new DatasetError(`X file ${path} has shape ${shapeText(shape)}; lwin expects X of shape [N, T, D] (sequences, time steps, input features): ${fix}.`);
}

function checkTargetShape(path: string, shape: readonly number[]): void {
  if (shape.length === 2 || (shape.length === 3 && shape[2] === 1)) return requireNonEmpty(`Y file ${path}`, shape, 'as [N, T]');
  const fix =
    shape.length === 3
      ? `lwin trains a single output per step (shape ${shapeText(shape)} has ${shape[2]}); save one target column, e.g. y[..., k]`
      : 'reshape it to (sequences, time steps) in numpy before saving';
  throw new DatasetError(`Y file ${path} has shape ${shapeText(shape)}; lwin expects Y of shape [N, T] or [N, T, 1]: ${fix}.`);
}

/**
 * Loads user data (SPEC §1): X [N,T,D] and Y [N,T] or [N,T,1], float32 or float64 .npy (float64 is narrowed to
 * float32, the precision lwin trains in). Unreadable files and unsupported dtypes raise NpyError (its messages name
 * the file and the numpy call that converts it); everything else raises DatasetError.
 */
export function loadNpyDataset(xPath: string, yPath: string): SequenceData {
  const xArray = readNpyFile(xPath);
  checkInputShape(xPath, xArray.shape);
  const yArray = readNpyFile(yPath);
  checkTargetShape(yPath, yArray.shape);
  const [count, steps, inputSize] = xArray.shape as [number, number, number];
  const [targetCount, targetSteps] = yArray.shape as [number, number];
  if (targetCount !== count) {
    throw new DatasetError(`X file ${xPath} holds ${count} sequences but Y file ${yPath} holds ${targetCount}; both must hold the same sequences in the same order (axis 0).`);
  }
  if (targetSteps !== steps) {
    throw new DatasetError(`X file ${xPath} has ${steps} time steps but Y file ${yPath} has ${targetSteps}; a target is needed for every input step (axis 1).`);
  }
  const x = asFloat32(xArray);
  requireFinite(`X file ${xPath}`, x, steps, inputSize, xArray.data instanceof Float64Array ? xArray.data : undefined);
  const y = asFloat32(yArray);
  requireFinite(`Y file ${yPath}`, y, steps, undefined, yArray.data instanceof Float64Array ? yArray.data : undefined);
  return { x, y, count, steps, inputSize, source: `${xPath} + ${yPath}` };
}

export { NpyError };
