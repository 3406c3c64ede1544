// The kernel runtime around one GPUDevice: pipelines, buffers, steps, readback, profiling and failure reporting.
import type { Storage } from '../io/storage.ts';
import type { AdapterSummary } from './device.ts';
import { DeviceLostError, GpuValidationError, withErrorScopes } from './errors.ts';
import { PipelineCache, programLabel, type KernelProgram } from './pipelines.ts';
import { Profiler, TimestampRecorder, profileEvery } from './profiler.ts';
import { type BoundAs, STORAGE, StagingPool, UniformPool, copyOutOfStaging, createStorage, uploadStorage } from './buffers.ts';
import { Step, type StepHost } from './step.ts';
import { BindGroupCache } from './bind-groups.ts';
import { trackMemory, type MemoryLedger } from './memory.ts';
import { envSetting } from './runtime.ts';

export interface ContextOptions {
  /** Shown in profiles and benchmark output. */
  adapter?: AdapterSummary;
  /**
   * Record per-kernel GPU time (timestamp-query when available, wall clock otherwise): every step, but of the
   * repeated ones (a step opened with a kind) a sample, LWIN_PROFILE's (src/gpu/profiler.ts profileEvery);
   * 'every-step' times them all (`lwin profile`).
   */
  profile?: boolean | 'every-step';
  /**
   * Where the recurrent kernels' autotuned tiles are kept (src/cells/autotune.ts): with one, training times a few
   * tiles on first use of a size and caches the fastest per adapter; without, the default tile is used.
   */
  tileCache?: { storage: Storage; path: string };
}

const softwareDevices = new WeakSet<GPUDevice>();
const SOFTWARE_RASTERIZERS = /swiftshader|llvmpipe|lavapipe/i;

/** Whether `device` came from a fallback (CPU) adapter, as a context made on it was told. */
export function onSoftwareAdapter(device: GPUDevice): boolean {
  return softwareDevices.has(device);
}

export class GpuContext implements StepHost {
  readonly pipelines: PipelineCache;
  readonly staging: StagingPool;
  readonly uniforms: UniformPool;
  readonly bindGroups: BindGroupCache;
  readonly hasTimestamps: boolean;
  readonly profiler: Profiler | undefined;
  readonly timestamps: TimestampRecorder | undefined;
  /** Live and peak bytes of the device's buffers. */
  readonly memory: MemoryLedger;
  private lostInfo: { reason: string; message: string } | undefined;
  private uncaptured: GPUError | undefined;

  constructor(
    readonly device: GPUDevice,
    readonly options: ContextOptions = {},
  ) {
    this.memory = trackMemory(device);
    this.pipelines = new PipelineCache(device);
    this.staging = new StagingPool(device);
    this.uniforms = new UniformPool(device);
    this.bindGroups = new BindGroupCache(device);
    this.hasTimestamps = device.features.has('timestamp-query');
    if (this.softwareAdapter) softwareDevices.add(device);
    if (options.profile) {
      this.profiler = new Profiler(this.hasTimestamps ? 'timestamp-query' : 'wall-clock', options.adapter?.name ?? '', options.profile === 'every-step' ? 1 : profileEvery());
      if (this.hasTimestamps) this.timestamps = new TimestampRecorder(device);
    }
    void device.lost.then((info) => {
      this.lostInfo = { reason: info.reason, message: info.message };
    });
    // Errors outside any scope (there should be none) are kept and raised at the next check.
    device.addEventListener('uncapturederror', (event) => {
      this.uncaptured ??= (event as GPUUncapturedErrorEvent).error;
    });
  }

  /**
   * A CPU adapter: a fallback adapter, or one named as a software rasterizer (a runtime that exposes SwiftShader or
   * lavapipe as its only adapter may not flag it). Unknown adapters count as GPUs.
   */
  get softwareAdapter(): boolean {
    const adapter = this.options.adapter;
    if (adapter) return adapter.isFallbackAdapter || SOFTWARE_RASTERIZERS.test(`${adapter.name} ${adapter.vendor} ${adapter.device}`);
    // A device handed over without its adapter (the library's `device` option): what the device says of its adapter,
    // so that kernels choosing by adapter kind (and so by results: src/cells/tiles.ts devicePartials) choose as a
    // context told the adapter would.
    const info = (this.device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).adapterInfo;
    return Boolean(info && (info.isFallbackAdapter || SOFTWARE_RASTERIZERS.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`)));
  }

  get adapterName(): string {
    return this.options.adapter?.name ?? 'unknown adapter';
  }

  /** Throws if the device was lost or an error escaped the error scopes; `during` names the work about to start. */
  check(during: string): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message, during);
    if (this.uncaptured) {
      const error = this.uncaptured;
      this.uncaptured = undefined;
      throw new GpuValidationError('validation', `work before ${during}`, error.message);
    }
  }

  /** Converts a failure during `during` into a DeviceLostError when the device is gone. */
  async explain(error: unknown, during: string): Promise<never> {
    // Loss is reported asynchronously; give the lost promise a moment to settle before deciding.
    await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 0))]);
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message, during);
    throw error;
  }

  storage(label: string, bytes: number, binding: BoundAs = 'whole'): GPUBuffer {
    return createStorage(this.device, label, bytes, STORAGE, binding);
  }

  /** Idle scratch buffers by requested size, from the last step that released any (Step.scratch reuses them). */
  private idle = new Map<number, GPUBuffer[]>();

  /**
   * A scratch buffer of `bytes` for a step: an idle one of that size from the previous step when there is one, or
   * one of its label up to twice as large (`reused`: its contents are stale, so the step clears it, as WebGPU clears a
   * new buffer), else a new one; `key`: the size it is pooled under (releaseScratch).
   * Creating and destroying every scratch buffer at every step cost more than the kernels on a GPU's driver (the
   * H100's training steps spent 34–91% of their wall time outside kernels; bench/RESULTS.md).
   */
  acquireScratch(label: string, bytes: number, binding: BoundAs = 'whole'): { buffer: GPUBuffer; reused: boolean; key: number } {
    if (scratchPoolOff()) return { buffer: this.storage(label, bytes, binding), reused: false, key: bytes };
    const buffer = this.idle.get(bytes)?.pop();
    if (buffer) return { buffer, reused: true, key: bytes };
    // A smaller step of the same kind (an epoch's last, partial batch; a last chunk) takes the idle buffer of its
    // role (its label) if that holds it with at most twice the bytes: otherwise every epoch would destroy and create
    // the full batches' scratch twice (50–80 ms at the paper size on an H200, bench/RESULTS.md).
    const larger = this.largerIdle(label, bytes);
    if (larger) return { buffer: larger.buffer, reused: true, key: larger.key };
    // A size the previous step did not have: a step of another shape (another phase). The idle buffers go first, so
    // memory never holds two steps' scratch (diagnostic budgets stay true).
    this.releaseIdle();
    return { buffer: this.storage(label, bytes, binding), reused: false, key: bytes };
  }

  /** An idle buffer labelled `label` of bytes..2·bytes, taken out of the pool, with its pool key. */
  private largerIdle(label: string, bytes: number): { buffer: GPUBuffer; key: number } | undefined {
    for (const [key, list] of this.idle) {
      if (key < bytes || key > 2 * bytes) continue;
      const i = list.findIndex((b) => b.label === label);
      if (i >= 0) return { buffer: list.splice(i, 1)[0]!, key };
    }
    return undefined;
  }

  /**
   * Takes back a finished step's scratch buffers (the device is done with them) and destroys the idle ones it did
   * not reuse: what stays idle between steps is one step's scratch, already counted in its peak.
   */
  releaseScratch(buffers: readonly { bytes: number; buffer: GPUBuffer }[]): void {
    if (scratchPoolOff()) {
      for (const { buffer } of buffers) buffer.destroy();
      return;
    }
    if (!buffers.length) return; // a step without scratch (a read) leaves the idle ones for the next
    this.releaseIdle();
    for (const { bytes, buffer } of buffers) {
      let list = this.idle.get(bytes);
      if (!list) this.idle.set(bytes, (list = []));
      list.push(buffer);
    }
  }

  /** Destroys every idle scratch buffer (the end of a phase whose sizes will not come back). */
  releaseIdle(): void {
    for (const list of this.idle.values()) for (const buffer of list) buffer.destroy();
    this.idle.clear();
  }

  upload(label: string, data: ArrayBufferView): GPUBuffer {
    return uploadStorage(this.device, label, data, STORAGE);
  }

  readyPipeline(program: KernelProgram): GPUComputePipeline | undefined {
    return this.pipelines.ready(program);
  }

  pipeline(program: KernelProgram): Promise<GPUComputePipeline> {
    this.check(`compiling ${programLabel(program)}`);
    return withErrorScopes(this.device, `compiling ${programLabel(program)}`, () => this.pipelines.get(program));
  }

  /**
   * A new logical step: record dispatches and copies, then `submit()` once. `kind` names a step that repeats with the
   * same shapes (a trainer's batch of one size): a profiling context times only a sample of those (Profiler.admit).
   */
  step(label: string, kind?: string): Step {
    return new Step(this, label, kind);
  }

  /** Reads `bytes` bytes of `buffer` from `offset` (one submit; prefer `Step.read` inside a step). */
  async read(buffer: GPUBuffer, offset = 0, bytes = buffer.size - offset): Promise<ArrayBuffer> {
    const step = this.step(`read ${buffer.label}`);
    const result = step.read(buffer, offset, bytes);
    await step.submit();
    return result;
  }

  async readF32(buffer: GPUBuffer, offset = 0, count = (buffer.size - offset) / 4): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, offset, count * 4));
  }

  /** Internal: staging copy helper used by Step. */
  async drainStaging(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      return await copyOutOfStaging(staging, bytes);
    } finally {
      this.staging.release(staging);
    }
  }

  destroy(): void {
    this.releaseIdle();
    this.staging.destroy();
    this.uniforms.destroy();
    this.bindGroups.clear();
    this.timestamps?.destroy();
  }
}

/** `LWIN_SCRATCH_POOL=off` (Node; benchmarks): every step creates and destroys its scratch, as before the pool. */
function scratchPoolOff(): boolean {
  return envSetting('LWIN_SCRATCH_POOL') === 'off';
}
