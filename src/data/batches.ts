// Seeded mini-batches (SPEC §3: shuffled sequences, a new permutation every epoch). The data stays on the host;
// each step gathers only its batch into contiguous arrays and uploads those, so a training set larger than one
// GPU buffer binding trains all the same.
import type { Rng } from '../util/random.ts';
import type { SequenceData } from './dataset.ts';

/** A uniformly random permutation of 0…count-1 (Fisher–Yates, drawing from `rng`). */
export function epochPermutation(count: number, rng: Rng): Uint32Array {
  if (!Number.isInteger(count) || count < 0 || count > 2 ** 32 - 1) throw new RangeError(`permutation size must be an integer in [0, 2^32-1], got ${count}`);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/** Positions [start, end) in an epoch's permutation. */
export type BatchRange = readonly [start: number, end: number];

/**
 * Consecutive batches covering 0…count-1 exactly once. The last batch holds the remainder and is kept, not
 * dropped (PyTorch DataLoader's default, drop_last=False, which the reference uses): 8000 sequences in batches of
 * 512 make 15 batches of 512 and one of 320.
 */
export function batchRanges(count: number, batchSize: number): BatchRange[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`sequence count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const ranges: BatchRange[] = [];
  for (let start = 0; start < count; start += batchSize) ranges.push([start, Math.min(count, start + batchSize)]);
  return ranges;
}

/** One batch gathered from a SequenceData: x [B,T,D] and y [B,T], contiguous. */
export interface Batch {
  x: Float32Array<ArrayBuffer>;
  y: Float32Array<ArrayBuffer>;
  /** B */
  count: number;
  /** T */
  steps: number;
  /** D */
  inputSize: number;
}

/** Reusable storage for gatherBatch: sized for the largest batch, shared by every batch of a run. */
export interface BatchBuffers {
  x: Float32Array<ArrayBuffer>;
  y: Float32Array<ArrayBuffer>;
}

/** Storage for batches of up to `batchSize` sequences of `data`'s shape. */
export function batchBuffers(data: SequenceData, batchSize: number): BatchBuffers {
  return { x: new Float32Array(batchSize * data.steps * data.inputSize), y: new Float32Array(batchSize * targetStride(data)) };
}

/** Targets per sequence: T, or T·K for a K-output head's mse targets (SPEC §13). */
const targetStride = (data: SequenceData) => data.y.length / data.count;

/**
 * Copies sequences indices[0], indices[1], … of `data` into a batch, in that order. With `out`, writes into its
 * buffers and returns views of their first B sequences (a smaller last batch reuses the same buffers); `out` must
 * have room for the batch.
 */
export function gatherBatch(data: SequenceData, indices: ArrayLike<number>, out?: BatchBuffers): Batch {
  const count = indices.length;
  const xStride = data.steps * data.inputSize;
  const yStride = targetStride(data);
  const storage = out ?? { x: new Float32Array(count * xStride), y: new Float32Array(count * yStride) };
  if (storage.x.length < count * xStride || storage.y.length < count * yStride) {
    const room = Math.min(Math.floor(storage.x.length / xStride), Math.floor(storage.y.length / yStride));
    throw new RangeError(`gatherBatch: the batch buffers hold ${room} sequences of this data, the batch has ${count}`);
  }
  for (let b = 0; b < count; b++) {
    const n = indices[b]!;
    if (!Number.isInteger(n) || n < 0 || n >= data.count) {
      throw new RangeError(`gatherBatch: index ${b} is ${n}, outside the ${data.count} sequences of ${data.source}`);
    }
    storage.x.set(data.x.subarray(n * xStride, (n + 1) * xStride), b * xStride);
    storage.y.set(data.y.subarray(n * yStride, (n + 1) * yStride), b * yStride);
  }
  return { x: storage.x.subarray(0, count * xStride), y: storage.y.subarray(0, count * yStride), count, steps: data.steps, inputSize: data.inputSize };
}
