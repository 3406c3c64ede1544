// A training set kept on the device for a whole run: each batch is gathered there from the epoch's indices (one
// small queue write and a dispatch per part) instead of being gathered on the host and written to the device. At
// the paper's size that saves the host ~6 ms a batch (copying 32 MiB of inputs) and the device the transfer of those
// 32 MiB, for 0.5 GiB held once (bench/RESULTS.md, 2026-11-27).
import type { GpuContext } from '../gpu/context.ts';
import type { Step } from '../gpu/step.ts';
import type { SequenceData } from '../data/dataset.ts';
import { bufferLimit } from '../gpu/chunks.ts';
import { envSetting } from '../gpu/runtime.ts';
import { gatherRowsProgram } from '../../shaders/gather.ts';

/** A set is kept on the device up to this size (the paper's 8000 sequences take 0.54 GiB). */
export const RESIDENT_BYTES = 2 ** 30;

interface Part {
  /** First sequence held. */
  first: number;
  count: number;
  x: GPUBuffer;
  y: GPUBuffer;
}

/**
 * Whether a run on `ctx` keeps a training set of `bytes` (inputs and targets) on the device: on GPUs (a CPU
 * adapter's "device memory" is the host's, so gathering there gains nothing) up to RESIDENT_BYTES; LWIN_RESIDENT=on|off
 * decides instead.
 */
export function keepsResident(ctx: GpuContext, bytes: number): boolean {
  const env = envSetting('LWIN_RESIDENT');
  if (env && env !== 'on' && env !== 'off') throw new Error(`LWIN_RESIDENT=${env}: use 'on' (the training set kept on the device) or 'off' (batches gathered on the host)`);
  if (env) return env === 'on';
  return !ctx.softwareAdapter && bytes <= RESIDENT_BYTES;
}

/**
 * A resident set of `data`, or undefined where the device has no room for it (an out-of-memory error while its
 * parts are created: the run then gathers its batches on the host, as on CPU adapters).
 */
export async function residentOrNone(ctx: GpuContext, data: SequenceData, batch: number): Promise<ResidentSet | undefined> {
  ctx.device.pushErrorScope('out-of-memory');
  let set: ResidentSet | undefined;
  try {
    set = new ResidentSet(ctx, data, batch);
  } finally {
    const error = await ctx.device.popErrorScope();
    if (error) {
      set?.destroy();
      set = undefined;
    }
  }
  return set;
}

export class ResidentSet {
  readonly parts: Part[] = [];
  private readonly index: GPUBuffer;
  private readonly xWidth: number;
  private readonly yWidth: number;

  /**
   * Uploads `data` in parts of whole sequences, each within one binding (or `partBytes`); `batch`: the most
   * sequences per batch.
   */
  constructor(
    private readonly ctx: GpuContext,
    data: SequenceData,
    batch: number,
    partBytes = bufferLimit(ctx.device.limits),
  ) {
    this.xWidth = data.steps * data.inputSize;
    this.yWidth = data.y.length / data.count;
    const perPart = Math.max(1, Math.floor(Math.min(partBytes, bufferLimit(ctx.device.limits)) / (4 * Math.max(this.xWidth, this.yWidth))));
    for (let first = 0; first < data.count; first += perPart) {
      const count = Math.min(perPart, data.count - first);
      this.parts.push({
        first, count,
        x: ctx.upload(`train/resident-x@${first}`, data.x.subarray(first * this.xWidth, (first + count) * this.xWidth)),
        y: ctx.upload(`train/resident-y@${first}`, data.y.subarray(first * this.yWidth, (first + count) * this.yWidth)),
      });
    }
    this.index = ctx.storage('train/batch-index', 4 * batch);
  }

  /**
   * Records the gathering of sequences `indices` (in that order) into x [B, T, D] and y, as gatherBatch would on the
   * host. The indices are written to the queue now: the step must be the next one submitted that reads them.
   */
  record(step: Step, indices: Uint32Array, x: GPUBuffer, y: GPUBuffer): void {
    this.ctx.device.queue.writeBuffer(this.index, 0, indices as Uint32Array<ArrayBuffer>);
    for (const part of this.parts) {
      const range = { first: part.first, held: part.count, rows: indices.length };
      step.run(gatherRowsProgram, { src: part.x, index: this.index, dst: x }, { ...range, width: this.xWidth });
      step.run(gatherRowsProgram, { src: part.y, index: this.index, dst: y }, { ...range, width: this.yWidth });
    }
  }

  /** The inputs of sequences 0 … count-1 as one buffer, when one part holds them all. */
  leadingInputs(count: number): GPUBuffer | undefined {
    const part = this.parts[0];
    return part && part.count >= count ? part.x : undefined;
  }

  destroy(): void {
    for (const part of this.parts) {
      part.x.destroy();
      part.y.destroy();
    }
    this.index.destroy();
  }
}
