// Per-kernel GPU time: timestamp queries around each profiled dispatch, aggregated per kernel name.

export type ProfileSource = 'timestamp-query' | 'wall-clock';

export interface KernelTiming {
  name: string;
  calls: number;
  totalMs: number;
  meanUs: number;
  /** Fraction of the total profiled time spent in this kernel. */
  share: number;
}

export interface ProfileReport {
  source: ProfileSource;
  adapter: string;
  totalMs: number;
  kernels: KernelTiming[];
}

export class Profiler {
  private readonly totals = new Map<string, { calls: number; ns: number }>();

  constructor(
    readonly source: ProfileSource,
    readonly adapter = '',
  ) {}

  /** Adds one measured interval for `name`, in nanoseconds. */
  record(name: string, ns: number): void {
    const entry = this.totals.get(name) ?? { calls: 0, ns: 0 };
    entry.calls += 1;
    entry.ns += Math.max(0, ns);
    this.totals.set(name, entry);
  }

  reset(): void {
    this.totals.clear();
  }

  report(): ProfileReport {
    let totalNs = 0;
    for (const e of this.totals.values()) totalNs += e.ns;
    const kernels = [...this.totals.entries()]
      .map(([name, e]) => ({
        name,
        calls: e.calls,
        totalMs: e.ns / 1e6,
        meanUs: e.ns / e.calls / 1e3,
        share: totalNs > 0 ? e.ns / totalNs : 0,
      }))
      .sort((a, b) => b.totalMs - a.totalMs);
    return { source: this.source, adapter: this.adapter, totalMs: totalNs / 1e6, kernels };
  }
}

export function formatProfile(report: ProfileReport): string {
  const header = ['kernel', 'calls', 'total ms', 'mean µs', 'share'];
  const rows = report.kernels.map((k) => [
    k.name,
    String(k.calls),
    k.totalMs.toFixed(3),
    k.meanUs.toFixed(1),
    `${(100 * k.share).toFixed(1)}%`,
  ]);
  rows.push(['total', String(report.kernels.reduce((s, k) => s + k.calls, 0)), report.totalMs.toFixed(3), '', '100%']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const title = `GPU time per kernel (${report.source}${report.adapter ? `, ${report.adapter}` : ''})`;
  return [title, line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const QUERY_RESOLVE = 0x200; // GPUBufferUsage.QUERY_RESOLVE
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;

/**
 * Timestamp queries of one submitted step: a begin/end pair per profiled compute pass, resolved into a buffer and
 * read back once the step is done. Each step in flight has its own slot (query set, resolve and read buffers): a
 * trainer queues batch n + 1 while batch n runs (src/train/trainer.ts), and a shared read buffer would still be
 * mapped, or waiting to be, when the next step's commands copy into it.
 */
export class TimestampSlot {
  readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readBuffer: GPUBuffer;

  constructor(device: GPUDevice, readonly capacity: number) {
    const count = 2 * capacity;
    this.querySet = device.createQuerySet({ label: 'profiler/timestamps', type: 'timestamp', count });
    this.resolveBuffer = device.createBuffer({ label: 'profiler/resolve', size: 8 * count, usage: QUERY_RESOLVE | COPY_SRC });
    this.readBuffer = device.createBuffer({ label: 'profiler/read', size: 8 * count, usage: MAP_READ | COPY_DST });
  }

  passWrites(index: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 };
  }

  encodeResolve(encoder: GPUCommandEncoder, passes: number): void {
    if (passes === 0) return;
    encoder.resolveQuerySet(this.querySet, 0, 2 * passes, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, 16 * passes);
  }

  /** Durations in ns of the first `passes` passes, after the submit that resolved them. */
  async read(passes: number): Promise<number[]> {
    if (passes === 0) return [];
    await this.readBuffer.mapAsync(MAP_READ, 0, 16 * passes);
    try {
      const stamps = new BigUint64Array(this.readBuffer.getMappedRange(0, 16 * passes));
      const out: number[] = [];
      for (let i = 0; i < passes; i++) out.push(Number(stamps[2 * i + 1]! - stamps[2 * i]!));
      return out;
    } finally {
      this.readBuffer.unmap();
    }
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.readBuffer.destroy();
  }
}

/** The slots of a context's profiled steps: one per step in flight, kept between steps (sized for the largest so far). */
export class TimestampRecorder {
  private idle: TimestampSlot[] = [];
  private capacity = 64;

  constructor(private readonly device: GPUDevice) {}

  /** A slot with room for `passes` begin/end pairs, for one step until release. */
  acquire(passes: number): TimestampSlot {
    if (passes > this.capacity) {
      this.capacity = 2 ** Math.ceil(Math.log2(passes));
      for (const slot of this.idle.splice(0)) slot.destroy();
    }
    return this.idle.pop() ?? new TimestampSlot(this.device, this.capacity);
  }

  /** Takes back a step's slot once its timestamps are read (one too small for later steps is dropped). */
  release(slot: TimestampSlot): void {
    if (slot.capacity < this.capacity) slot.destroy();
    else this.idle.push(slot);
  }

  destroy(): void {
    for (const slot of this.idle.splice(0)) slot.destroy();
  }
}
