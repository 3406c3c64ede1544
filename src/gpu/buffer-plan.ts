// A pass's GPU buffers, planned before any exists: each buffer's bytes are `fixed + perSequence · chunk`. The same
// plan sizes the chunk (its per-sequence bytes go to sequencesPerChunk) and allocates the buffers, so what a pass is
// sized for and what it holds cannot drift apart.
import { storageSize } from './buffers.ts';

export interface PlannedBuffer {
  label: string;
  /** Bytes per sequence (or row) of the chunk. */
  perSequence: number;
  /** Bytes that do not grow with the chunk (a lag list, accumulators, a parameter-sized direction). */
  fixed?: number;
}

/** What allocate needs of a GpuContext. */
export interface StorageAllocator {
  storage(label: string, bytes: number): GPUBuffer;
  upload(label: string, data: ArrayBufferView): GPUBuffer;
}

export class BufferPlan {
  constructor(
    /** The pass, for messages: "diagnostics", "evaluation", "lag recovery". */
    readonly pass: string,
    readonly buffers: readonly PlannedBuffer[],
  ) {
    const seen = new Set<string>();
    for (const { label, perSequence, fixed = 0 } of buffers) {
      if (seen.has(label)) throw new Error(`${pass}: buffer '${label}' is planned twice`);
      seen.add(label);
      for (const [what, bytes] of [['perSequence', perSequence], ['fixed', fixed]] as const) {
        if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`${pass}: buffer '${label}' has ${what} = ${bytes} bytes; expected a whole number ≥ 0`);
      }
    }
  }

  /** This plan followed by `other`'s buffers (a pass that also holds an engine's buffers). */
  with(other: BufferPlan): BufferPlan {
    return new BufferPlan(this.pass, [...this.buffers, ...other.buffers]);
  }

  /** Bytes per sequence by label: the `buffers` of a sequencesPerChunk request. */
  get perSequence(): Record<string, number> {
    return Object.fromEntries(this.buffers.map((b) => [b.label, b.perSequence]));
  }

  /** Bytes per sequence of all buffers together: what the memory budget is divided by. */
  get bytesPerSequence(): number {
    return this.buffers.reduce((sum, b) => sum + b.perSequence, 0);
  }

  /** Bytes the buffer `label` is asked for at `chunk` sequences. */
  bytes(label: string, chunk: number): number {
    const buffer = this.buffers.find((b) => b.label === label);
    if (!buffer) throw new Error(`${this.pass}: no buffer '${label}' in the plan; planned: ${this.buffers.map((b) => b.label).join(', ')}`);
    return (buffer.fixed ?? 0) + buffer.perSequence * chunk;
  }

  /** Bytes the plan's buffers take on the device at `chunk` sequences (as created: 4-byte multiples, at least 4). */
  total(chunk: number): number {
    return this.buffers.reduce((sum, b) => sum + storageSize(this.bytes(b.label, chunk)), 0);
  }

  /**
   * Creates every planned buffer for `chunk` sequences, by label; a buffer given in `uploads` is created holding
   * that data, which must have exactly its planned bytes.
   */
  allocate(ctx: StorageAllocator, chunk: number, uploads: Readonly<Record<string, ArrayBufferView>> = {}): Record<string, GPUBuffer> {
    for (const label of Object.keys(uploads)) this.bytes(label, chunk); // an upload the plan lacks is an error
    const created: Record<string, GPUBuffer> = {};
    try {
      for (const { label } of this.buffers) {
        const bytes = this.bytes(label, chunk);
        const data = uploads[label];
        if (data && data.byteLength !== bytes) {
          throw new RangeError(`${this.pass}: upload to '${label}' has ${data.byteLength} bytes, the plan has ${bytes} for ${chunk} sequences`);
        }
        created[label] = data ? ctx.upload(label, data) : ctx.storage(label, bytes);
      }
    } catch (error) {
      for (const buffer of Object.values(created)) buffer.destroy();
      throw error;
    }
    return created;
  }
}
