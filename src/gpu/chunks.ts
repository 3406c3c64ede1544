// How many sequences (or rows) one GPU pass may hold at once. Every pass whose buffers grow with the number of
// sequences (evaluation and its gate statistics, the diagnostic stage, the trajectory, lag recovery) streams its
// set in chunks of this size, so the paper's shapes (T=1024, H=128) run on an adapter with WebGPU's default limits
// as well as on one that binds gigabytes. The one sizing rule lives here; each pass only lists its buffers.

/** GPU bytes a pass may use for its per-chunk buffers unless told otherwise. */
export const DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20;

export interface ChunkRequest {
  /** The pass, for messages: "evaluation", "lag recovery". */
  pass: string;
  /** Sequences (or rows) to process in all. */
  count: number;
  /** Bytes per sequence of each buffer that grows with the chunk, by buffer label. */
  buffers: Readonly<Record<string, number>>;
  /** Bytes per sequence weighed against the budget; the sum of `buffers` when absent. */
  bytesPerSequence?: number;
  /** GPU bytes the chunk's buffers may take together; DEFAULT_MEMORY_BUDGET when absent. */
  budget?: number;
  /** Sequences per chunk asked for by the user (replaces the budget, never the adapter's limits). */
  batch?: number;
  /** A pass's own upper bound (e.g. to keep its historical chunk, and with it its numbers). */
  cap?: number;
}

/** The adapter limits that bound one buffer: a kernel binds it whole, so it must fit both. */
export type BufferLimits = Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;

export function bufferLimit(limits: BufferLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/**
 * Sequences per chunk: as many as the budget (or the requested batch) allows, no more than the set or the cap,
 * and never so many that one buffer exceeds the adapter's per-buffer limits. At least 1; throws when a single
 * sequence's slice of some buffer is already over the limit.
 */
export function sequencesPerChunk(limits: BufferLimits, request: ChunkRequest): number {
  const limit = bufferLimit(limits);
  const entries = Object.entries(request.buffers);
  const [largestLabel, largest] = entries.reduce((a, b) => (b[1] > a[1] ? b : a), ['', 0]);
  if (largest > limit) {
    throw new RangeError(
      `${request.pass}: buffer '${largestLabel}' needs ${largest} bytes for a single sequence but this adapter binds at most ${limit} bytes ` +
        'per storage buffer (maxStorageBufferBindingSize, maxBufferSize). Use fewer steps T or a smaller hidden size H, or an adapter with larger limits.',
    );
  }
  const perSequence = request.bytesPerSequence ?? entries.reduce((sum, [, bytes]) => sum + bytes, 0);
  const wanted = request.batch ?? Math.floor((request.budget ?? DEFAULT_MEMORY_BUDGET) / Math.max(1, perSequence));
  const bindable = largest > 0 ? Math.floor(limit / largest) : Infinity;
  return Math.max(1, Math.min(request.count, request.cap ?? Infinity, wanted, bindable));
}
