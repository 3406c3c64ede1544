// Per-kernel GPU time: timestamp queries around each profiled dispatch, aggregated per kernel name.
import { envSetting } from './runtime.ts';

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
  /**
   * Present when repeated steps were sampled (Profiler.admit): one step in `every` of each kind was timed (0: none),
   * and each kind's timings are scaled by its steps over its timed steps, so totals and calls are estimates for all steps.
   */
  sampled?: { every: number; kinds: SampledKind[] };
}

/** Steps of one sampled kind (e.g. `train gru`): how many ran and how many of them were timed. */
export interface SampledKind {
  kind: string;
  steps: number;
  profiled: number;
}

/**
 * Repeated steps (a trainer's batches, an evaluation's chunks, the diagnostics' chunks) are timed one in
 * PROFILE_EVERY by default: a timed step runs each dispatch in its own pass with timestamp writes (and, without
 * timestamp queries, submits and awaits each dispatch alone), which slows the step; the profile of a whole study
 * needs only a sample of steps that repeat with the same shapes. LWIN_PROFILE=all times every step, `off` none of
 * the repeated ones (see profileEvery).
 */
export const PROFILE_EVERY = 8;

/**
 * One repeated step in how many is timed: LWIN_PROFILE (Node; 'all': 1, 'off': never, 'sampled' or unset:
 * PROFILE_EVERY; a positive integer: that), Infinity for never.
 */
export function profileEvery(): number {
  const setting = envSetting('LWIN_PROFILE');
  if (setting === undefined || setting === '' || setting === 'sampled') return PROFILE_EVERY;
  if (setting === 'all') return 1;
  if (setting === 'off') return Infinity;
  const n = Number(setting);
  if (Number.isInteger(n) && n >= 1) return n;
  throw new Error(`LWIN_PROFILE=${setting}: use 'sampled' (one repeated step in ${PROFILE_EVERY} timed, the default), 'all', 'off', or a whole number n ≥ 1 (one in n)`);
}

/**
 * Between a repeated step's kind and the rest of its sampling key (src/gpu/step.ts): the profiler counts and scales
 * by the whole key, and reports by the kind before it.
 */
export const SAMPLE_KEY_SEPARATOR = '\u0000';

export class Profiler {
  /** Measured intervals by sampling key ('' for steps that are always timed), then by kernel name. */
  private readonly totals = new Map<string, Map<string, { calls: number; ns: number }>>();
  private readonly kinds = new Map<string, { steps: number; profiled: number }>();

  constructor(
    readonly source: ProfileSource,
    readonly adapter = '',
    /** One step in `every` of each sampled kind is timed (Infinity: none); steps without a kind always are. */
    readonly every = 1,
  ) {}

  /**
   * Whether the next step with sampling key `key` is timed, counting it: steps without a key always are; of a key
   * (a kind, then what the step records: steps of one key do the same work), the first and then every `every`-th, so
   * that each form of a step is timed at least once.
   */
  admit(key?: string): boolean {
    if (key === undefined) return true;
    const seen = this.kinds.get(key) ?? { steps: 0, profiled: 0 };
    const timed = this.every !== Infinity && seen.steps % this.every === 0;
    seen.steps += 1;
    if (timed) seen.profiled += 1;
    this.kinds.set(key, seen);
    return timed;
  }

  /** Adds one measured interval for `name`, in nanoseconds, of a step with sampling key `key` (see admit). */
  record(name: string, ns: number, key = ''): void {
    let byName = this.totals.get(key);
    if (!byName) this.totals.set(key, (byName = new Map()));
    const entry = byName.get(name) ?? { calls: 0, ns: 0 };
    entry.calls += 1;
    entry.ns += Math.max(0, ns);
    byName.set(name, entry);
  }

  reset(): void {
    this.totals.clear();
    this.kinds.clear();
  }

  /** Per-kernel totals; a sampled kind's scaled by its steps over its timed steps (ProfileReport.sampled). */
  report(): ProfileReport {
    const merged = new Map<string, { calls: number; ns: number }>();
    for (const [kind, byName] of this.totals) {
      const seen = this.kinds.get(kind);
      const scale = seen && seen.profiled > 0 ? seen.steps / seen.profiled : 1;
      for (const [name, e] of byName) {
        const entry = merged.get(name) ?? { calls: 0, ns: 0 };
        entry.calls += e.calls * scale;
        entry.ns += e.ns * scale;
        merged.set(name, entry);
      }
    }
    let totalNs = 0;
    for (const e of merged.values()) totalNs += e.ns;
    const kernels = [...merged.entries()]
      .map(([name, e]) => ({
        name,
        calls: Math.round(e.calls),
        totalMs: e.ns / 1e6,
        meanUs: e.ns / e.calls / 1e3,
        share: totalNs > 0 ? e.ns / totalNs : 0,
      }))
      .sort((a, b) => b.totalMs - a.totalMs);
    const report: ProfileReport = { source: this.source, adapter: this.adapter, totalMs: totalNs / 1e6, kernels };
    // by kind: the keys' counts summed under the kind before the separator, for kinds with an untimed step
    const byKind = new Map<string, { steps: number; profiled: number }>();
    for (const [key, k] of this.kinds) {
      const kind = key.split(SAMPLE_KEY_SEPARATOR)[0]!;
      const sum = byKind.get(kind) ?? { steps: 0, profiled: 0 };
      byKind.set(kind, { steps: sum.steps + k.steps, profiled: sum.profiled + k.profiled });
    }
    const sampledKinds = [...byKind.entries()].filter(([, k]) => k.profiled < k.steps).map(([kind, k]) => ({ kind, ...k }));
    if (sampledKinds.length) report.sampled = { every: this.every === Infinity ? 0 : this.every, kinds: sampledKinds };
    return report;
  }
}

/** How a report was sampled, in words (empty when every step was timed). */
export function describeSampling(report: ProfileReport): string {
  const s = report.sampled;
  if (!s) return '';
  const steps = s.kinds.reduce((n, k) => n + k.steps, 0);
  const timed = s.kinds.reduce((n, k) => n + k.profiled, 0);
  return s.every === 0
    ? `repeated steps not timed (LWIN_PROFILE=off): ${steps} steps left out`
    : `sampled: ${timed} of ${steps} repeated steps timed (one in ${s.every} of each kind), their totals scaled to all`;
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
  const sampling = describeSampling(report);
  const title = `GPU time per kernel (${report.source}${report.adapter ? `, ${report.adapter}` : ''}${sampling ? `; ${sampling}` : ''})`;
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
