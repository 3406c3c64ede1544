// One logical step (a mini-batch, a diagnostic batch, a kernel test): many dispatches, one command encoder, one submit.
import type { AnyWgslStruct, InferInput } from 'typegpu/data';
import { programLabel, type KernelProgram } from './pipelines.ts';
import { SAMPLE_KEY_SEPARATOR, type Profiler, type TimestampRecorder, type TimestampSlot } from './profiler.ts';
import { orderBindings, type Program, type UniformValues, type Workgroups } from './program.ts';
import { withErrorScopes } from './errors.ts';
import { align4, type BoundAs, type StagingPool, type UniformPool } from './buffers.ts';
import { packStruct } from './layout.ts';
import type { BindGroupCache } from './bind-groups.ts';

export type Binding = GPUBuffer | GPUBufferBinding;
export type { Workgroups };

/** A dispatch's uniform block: its index in the step's uniform buffer, placed at submit. */
interface UniformSlot {
  uniform: number;
}

interface DispatchOp {
  kind: 'dispatch';
  program: KernelProgram;
  bindings: (Binding | UniformSlot)[];
  workgroups: Workgroups;
}
interface CopyOp {
  kind: 'copy';
  src: GPUBuffer;
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  bytes: number;
}
interface ClearOp {
  kind: 'clear';
  buffer: GPUBuffer;
  offset: number;
  bytes: number;
}
type Op = DispatchOp | CopyOp | ClearOp;

interface PendingRead {
  staging: GPUBuffer;
  bytes: number;
  resolve: (data: ArrayBuffer) => void;
  reject: (error: unknown) => void;
}

/**
 * What a step needs of the context that opens it (GpuContext, which implements it): the context creates steps, so
 * the step names only this slice, and the import runs one way.
 */
export interface StepHost {
  readonly device: GPUDevice;
  readonly staging: StagingPool;
  readonly profiler: Profiler | undefined;
  readonly timestamps: TimestampRecorder | undefined;
  /** The adapter is a CPU one (lavapipe, SwiftShader): kernels with a GPU-shaped and a CPU-shaped variant pick by it. */
  readonly softwareAdapter: boolean;
  readonly uniforms: UniformPool;
  readonly bindGroups: BindGroupCache;
  storage(label: string, bytes: number): GPUBuffer;
  acquireScratch(label: string, bytes: number, binding?: BoundAs): { buffer: GPUBuffer; reused: boolean; key: number };
  releaseScratch(buffers: readonly { bytes: number; buffer: GPUBuffer }[]): void;
  pipeline(program: KernelProgram): Promise<GPUComputePipeline>;
  /** `program`'s pipeline when compiled already (no await, no error scopes: a lookup raises no GPU error). */
  readyPipeline(program: KernelProgram): GPUComputePipeline | undefined;
  check(during: string): void;
  explain(error: unknown, during: string): Promise<never>;
  drainStaging(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer>;
}

/**
 * `promise`, kept from counting as an unhandled rejection while nobody awaits it yet (a read of a failed step, a
 * submit awaited later); whoever awaits it still gets the failure.
 */
export function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Records work, then encodes it all at `submit()`: consecutive dispatches share one compute pass, except when
 * profiling, where each dispatch gets its own pass with timestamp writes so its GPU time can be attributed.
 * Every dispatch's uniforms share one pooled buffer, written once at submit and given back once the step's work is done.
 */
export class Step {
  private readonly ops: Op[] = [];
  private readonly reads: PendingRead[] = [];
  private readonly uniformBlocks: ArrayBuffer[] = [];
  /** The uniform buffer of the submitted step, and each block's place in it. */
  private uniformBuffer: GPUBuffer | undefined;
  private uniformBindings: GPUBufferBinding[] = [];
  private readonly scratchBuffers: { bytes: number; buffer: GPUBuffer }[] = [];
  /** Each scratch buffer's requested bytes (reads default to them). */
  private readonly requested = new Map<GPUBuffer, number>();
  private submitted = false;

  /** Whether this step is timed: the context profiles, and its profiler admits the step (Profiler.admit), at submit. */
  private profiled = false;
  /** The profiler's key of a repeated step: its kind and what it records (sampleKey). */
  private sampleKey: string | undefined;

  constructor(
    private readonly ctx: StepHost,
    readonly label: string,
    /**
     * A repeated step's kind (e.g. `train gru`): the profiler times a sample of the steps of this kind that record
     * the same work (the same kernels, copies and clears, of the same sizes, in the same order).
     */
    private readonly kind?: string,
  ) {}

  /** The kind and, after it, every op's kernel and workgroups or bytes: steps with equal keys do the same work. */
  private key(): string | undefined {
    if (this.kind === undefined) return undefined;
    const ops = this.ops.map((op) => (op.kind === 'dispatch' ? `${programLabel(op.program)}(${op.workgroups.join('x')})` : `${op.kind}(${op.bytes})`));
    return `${this.kind}${SAMPLE_KEY_SEPARATOR}${ops.join(',')}`;
  }

  /**
   * Takes over `others`' recorded work (ops, uniforms, reads, scratch), which must not be submitted themselves:
   * 'after', each one's ops after this step's; 'interleaved', one op of each in turn (for independent work, e.g. two
   * models' batches: whether the device runs them side by side is the adapter's and its driver's choice, which
   * `npm run bench -- overlap` measures). Reads and results are each step's own, as if submitted alone.
   */
  merge(others: readonly Step[], order: 'after' | 'interleaved' = 'after'): this {
    const lists: Op[][] = [this.ops.splice(0)];
    for (const other of others) {
      if (other.submitted || other === this) throw new Error(`step '${other.label}' cannot be merged into '${this.label}': it is submitted, or the same step`);
      other.submitted = true; // its work is this step's now
      const base = this.uniformBlocks.length;
      this.uniformBlocks.push(...other.uniformBlocks.splice(0));
      lists.push(other.ops.splice(0).map((op) => (op.kind === 'dispatch' ? { ...op, bindings: op.bindings.map((b) => ('uniform' in b ? { uniform: b.uniform + base } : b)) } : op)));
      this.reads.push(...other.reads.splice(0));
      this.scratchBuffers.push(...other.scratchBuffers.splice(0));
      for (const [buffer, bytes] of other.requested) this.requested.set(buffer, bytes);
      other.markQueued();
    }
    if (order === 'after') this.ops.push(...lists.flat());
    else for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) this.ops.push(l[i]!);
    return this;
  }

  /**
   * Records one call of `program`: `buffers` names a buffer for each of its storage bindings (a missing, extra or
   * misnamed one is an error naming it and the kernel), `uniforms` are packed into a uniform buffer for this step,
   * and the workgroups come from the program's dispatch function of `sizes` (by default the uniform values).
   */
  run<U extends AnyWgslStruct | undefined, S>(
    program: Program<U, S>,
    buffers: Readonly<Record<string, Binding | undefined>>,
    uniforms: UniformValues<U>,
    ...sizes: [UniformValues<U>] extends [S] ? [sizes?: S] : [sizes: S]
  ): this {
    const bindings: DispatchOp['bindings'] = orderBindings(program as unknown as Program, buffers);
    if (program.uniform) {
      this.uniformBlocks.push(packStruct(program.uniform.schema as AnyWgslStruct, uniforms as InferInput<AnyWgslStruct>));
      bindings.push({ uniform: this.uniformBlocks.length - 1 });
    }
    const workgroups = program.dispatch((sizes.length ? sizes[0] : uniforms) as S, { maxWorkgroupsPerDimension: this.maxWorkgroupsPerDimension });
    return this.dispatch(program, bindings, workgroups);
  }

  private dispatch(program: KernelProgram, bindings: DispatchOp['bindings'], workgroups: Workgroups): this {
    const [x, y = 1, z = 1] = workgroups;
    const max = this.ctx.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new RangeError(
        `${programLabel(program)}: dispatch of ${x}×${y}×${z} workgroups exceeds the adapter's ${max} per dimension; ` +
          'the kernel must fold its grid (this is a bug in its dispatch function).',
      );
    }
    if (x * y * z > 0) this.ops.push({ kind: 'dispatch', program, bindings, workgroups });
    return this;
  }

  /**
   * A zeroed storage buffer for intermediates of this step only; after the submit completes it goes back to the
   * context, which may hand it to the next step (cleared again there). `binding` 'windows': kernels bind parts of it
   * only (each within maxBindingBytes, which the caller checks), so it may exceed that limit up to maxBufferSize.
   */
  scratch(label: string, bytes: number, binding: BoundAs = 'whole'): GPUBuffer {
    const { buffer, reused, key } = this.ctx.acquireScratch(label, bytes, binding);
    if (reused) this.clear(buffer);
    this.scratchBuffers.push({ bytes: key, buffer });
    this.requested.set(buffer, bytes);
    return buffer;
  }

  /** The device the step records for (kernels whose variant is chosen per adapter key their choice on it). */
  get device(): GPUDevice {
    return this.ctx.device;
  }

  /** Whether the adapter is a CPU one (see StepHost). */
  get softwareAdapter(): boolean {
    return this.ctx.softwareAdapter;
  }

  /** The adapter's maxStorageBufferBindingSize: the most one kernel can bind of a buffer. */
  get maxBindingBytes(): number {
    return this.ctx.device.limits.maxStorageBufferBindingSize;
  }

  get maxWorkgroupsPerDimension(): number {
    return this.ctx.device.limits.maxComputeWorkgroupsPerDimension;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): this {
    this.ops.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes: align4(bytes) });
    return this;
  }

  /** The bytes a step asked for of `buffer`: a scratch buffer may be larger (Step.scratch). */
  private bytesOf(buffer: GPUBuffer): number {
    return this.requested.get(buffer) ?? buffer.size;
  }

  clear(buffer: GPUBuffer, offset = 0, bytes = buffer.size - offset): this {
    this.ops.push({ kind: 'clear', buffer, offset, bytes: align4(bytes) });
    return this;
  }

  /** Schedules a readback of `buffer` at the end of this step; resolves after `submit()`. */
  read(buffer: GPUBuffer, offset = 0, bytes = this.bytesOf(buffer) - offset): Promise<ArrayBuffer> {
    const staging = this.ctx.staging.acquire(bytes);
    this.copy(buffer, offset, staging, 0, bytes);
    return quiet(new Promise<ArrayBuffer>((resolve, reject) => this.reads.push({ staging, bytes, resolve, reject })));
  }

  readF32(buffer: GPUBuffer, offset = 0, count = (this.bytesOf(buffer) - offset) / 4): Promise<Float32Array> {
    return quiet(this.read(buffer, offset, count * 4).then((b) => new Float32Array(b)));
  }

  get dispatchCount(): number {
    return this.ops.filter((op) => op.kind === 'dispatch').length;
  }

  private markQueued!: () => void;
  /**
   * Resolves once the step's commands are on the device's queue (or the step failed), before they finish: the host
   * may prepare the next step while the device works, then await submit().
   */
  readonly queued: Promise<void> = new Promise((resolve) => (this.markQueued = resolve));

  async submit(): Promise<void> {
    if (this.submitted) throw new Error(`step '${this.label}' was already submitted`);
    this.submitted = true;
    const during = `step '${this.label}'`;
    try {
      this.ctx.check(during);
      if (this.ctx.profiler) {
        this.sampleKey = this.key();
        this.profiled = this.ctx.profiler.admit(this.sampleKey);
      }
      const pipelines = this.readyPipelines() ?? (await this.compilePipelines(), this.readyPipelines()!);
      this.writeUniforms();
      const profiler = this.profiled ? this.ctx.profiler : undefined;
      if (profiler && !this.ctx.timestamps) await this.submitTimedByWallClock(pipelines, during);
      else await withErrorScopes(this.ctx.device, during, () => this.encodeAndSubmit(pipelines));
      // Its commands are on the queue: the scratch may serve the next step now, whose commands the queue runs after
      // these (its clears included), so a trainer can record the next batch while the device works on this one
      // without a second step's scratch in memory.
      this.ctx.releaseScratch(this.scratchBuffers.splice(0));
      const after = this.afterSubmit ?? this.requestCompletion();
      if (profiler && this.slot) {
        const durations = await after.timestamps!;
        this.ctx.timestamps!.release(this.slot);
        this.slot = undefined;
        this.dispatchNames().forEach((name, i) => profiler.record(name, durations[i]!, this.sampleKey));
      }
      await after.done;
      if (this.uniformBuffer) this.ctx.uniforms.release(this.uniformBuffer);
      this.uniformBuffer = undefined;
      const results = await Promise.all(after.reads);
      this.reads.forEach((r, i) => r.resolve(results[i]!));
    } catch (error) {
      // Nobody may wait forever on a read of a step that failed.
      for (const r of this.reads) r.reject(error);
      await this.ctx.explain(error, during);
    } finally {
      this.markQueued();
      this.slot?.destroy(); // a failed step's: not reused
      this.slot = undefined;
      this.uniformBuffer?.destroy(); // a failed step's: not reused
      for (const { buffer } of this.scratchBuffers) buffer.destroy(); // a failed step's: not reused
    }
  }

  /**
   * The step's completion, its reads and its timestamps, asked for right after its queue.submit (encodeAndSubmit):
   * asked for later, after an await, onSubmittedWorkDone would also wait for whatever was submitted meanwhile (a
   * trainer's next batch), and the host would see this step done only when that one is.
   */
  private afterSubmit: { done: Promise<void>; reads: Promise<ArrayBuffer>[]; timestamps?: Promise<number[]> } | undefined;

  private requestCompletion(): NonNullable<Step['afterSubmit']> {
    return (this.afterSubmit = {
      done: quiet(this.ctx.device.queue.onSubmittedWorkDone()),
      reads: this.reads.map((r) => quiet(this.ctx.drainStaging(r.staging, r.bytes))),
      ...(this.slot && { timestamps: quiet(this.slot.read(this.profiledPasses)) }),
    });
  }

  private profiledPasses = 0;
  /** This step's timestamp queries, while it is profiled and in flight. */
  private slot: TimestampSlot | undefined;

  private dispatchNames(): string[] {
    return this.ops.filter((op): op is DispatchOp => op.kind === 'dispatch').map((op) => op.program.name);
  }

  /** Every dispatch's pipeline, if each is compiled already (the common case after a first step): no await. */
  private readyPipelines(): Map<KernelProgram, GPUComputePipeline> | undefined {
    const map = new Map<KernelProgram, GPUComputePipeline>();
    for (const op of this.ops) {
      if (op.kind !== 'dispatch' || map.has(op.program)) continue;
      const pipeline = this.ctx.readyPipeline(op.program);
      if (!pipeline) return undefined;
      map.set(op.program, pipeline);
    }
    return map;
  }

  /** Compiles, one after another, the dispatches' pipelines not compiled yet: then readyPipelines has them all. */
  private async compilePipelines(): Promise<void> {
    for (const op of this.ops) if (op.kind === 'dispatch' && !this.ctx.readyPipeline(op.program)) await this.ctx.pipeline(op.program);
  }

  /** Packs the dispatches' uniform blocks at the offsets the adapter allows into a pooled buffer: one queue write. */
  private writeUniforms(): void {
    if (!this.uniformBlocks.length) return;
    const align = this.ctx.device.limits.minUniformBufferOffsetAlignment;
    let end = 0;
    const offsets = this.uniformBlocks.map((block) => {
      const at = end;
      end = Math.ceil((at + block.byteLength) / align) * align;
      return at;
    });
    const packed = new Uint8Array(end);
    this.uniformBlocks.forEach((block, i) => packed.set(new Uint8Array(block), offsets[i]!));
    const buffer = (this.uniformBuffer = this.ctx.uniforms.acquire(end));
    this.ctx.device.queue.writeBuffer(buffer, 0, packed);
    this.uniformBindings = offsets.map((offset, i) => ({ buffer, offset, size: align4(this.uniformBlocks[i]!.byteLength) }));
  }

  private bindGroup(op: DispatchOp, pipeline: GPUComputePipeline): GPUBindGroup {
    const entries = op.bindings.map((b) => ('uniform' in b ? this.uniformBindings[b.uniform]! : 'buffer' in b ? b : { buffer: b }));
    return this.ctx.bindGroups.get(pipeline, entries, programLabel(op.program));
  }

  private encodeOps(encoder: GPUCommandEncoder, ops: Op[], pipelines: Map<KernelProgram, GPUComputePipeline>, timestamps?: TimestampSlot): void {
    let pass: GPUComputePassEncoder | undefined;
    const endPass = () => {
      pass?.end();
      pass = undefined;
    };
    for (const op of ops) {
      if (op.kind !== 'dispatch') {
        endPass();
        if (op.kind === 'copy') encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.bytes);
        else encoder.clearBuffer(op.buffer, op.offset, op.bytes);
        continue;
      }
      if (timestamps) {
        endPass();
        pass = encoder.beginComputePass({ label: op.program.name, timestampWrites: timestamps.passWrites(this.profiledPasses++) });
      }
      pass ??= encoder.beginComputePass({ label: this.label });
      const pipeline = pipelines.get(op.program)!;
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, this.bindGroup(op, pipeline));
      const [x, y = 1, z = 1] = op.workgroups;
      pass.dispatchWorkgroups(x, y, z);
    }
    endPass();
  }

  private encodeAndSubmit(pipelines: Map<KernelProgram, GPUComputePipeline>): void {
    const encoder = this.ctx.device.createCommandEncoder({ label: this.label });
    // A profiled step's timestamps go to a slot of its own, so the next step may be queued while this one runs.
    this.slot = this.profiled && this.ctx.timestamps ? this.ctx.timestamps.acquire(this.dispatchCount) : undefined;
    this.encodeOps(encoder, this.ops, pipelines, this.slot);
    this.slot?.encodeResolve(encoder, this.profiledPasses);
    this.ctx.device.queue.submit([encoder.finish()]);
    this.requestCompletion();
    this.markQueued();
  }

  /** Without timestamp queries: each dispatch is submitted alone and timed on the host (includes submit overhead). */
  private async submitTimedByWallClock(pipelines: Map<KernelProgram, GPUComputePipeline>, during: string): Promise<void> {
    const profiler = this.ctx.profiler!;
    for (const op of this.ops) {
      const start = performance.now();
      await withErrorScopes(this.ctx.device, during, () => {
        const encoder = this.ctx.device.createCommandEncoder({ label: this.label });
        this.encodeOps(encoder, [op], pipelines);
        this.ctx.device.queue.submit([encoder.finish()]);
      });
      await this.ctx.device.queue.onSubmittedWorkDone();
      if (op.kind === 'dispatch') profiler.record(op.program.name, (performance.now() - start) * 1e6, this.sampleKey);
    }
  }
}
