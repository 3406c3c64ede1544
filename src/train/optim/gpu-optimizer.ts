// One optimizer over a model's flat parameter buffer: state on the GPU, updates recorded into a caller's Step.
// An update is three kernels with no host round trip: g² over the trainable prefix → compensated sum
// (shaders/reduce.ts) → the update kernel, which reads Σg², writes ‖g‖ and clips before updating (SPEC §3).
import type { GpuContext } from '../../gpu/context.ts';
import type { Step } from '../../gpu/step.ts';
import { recordSegmentedReduce } from '../../kernels/reduce.ts';
import type { ParamLayout } from '../../model/params.ts';
import { UPDATE_STATE_SLOTS, gradSquaresProgram, optimUpdateProgram } from '../../../shaders/optim.ts';
import { describeOptimizer, resolveOptimizerConfig, type OptimizerConfig, type ResolvedOptimizerConfig } from './config.ts';
import { OPTIMIZER_RULES, updateUniforms } from './rules.ts';

/** Optimizer state as torch names it: `step` updates done, and per-element tensors over the trainable prefix. */
export interface OptimizerState {
  step: number;
  tensors: Record<string, Float32Array>;
}

export class GpuOptimizer {
  readonly config: ResolvedOptimizerConfig;
  /** ‖g‖ over the trainable prefix (before clipping) of the last recorded update; 0 before any. */
  readonly gradNorm: GPUBuffer;
  private readonly state: GPUBuffer | undefined;
  private readonly squares: GPUBuffer;
  private readonly sumOfSquares: GPUBuffer;
  private readonly meanOfSquares: GPUBuffer;
  private readonly stateNames: readonly string[];
  private updates = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly layout: ParamLayout,
    config: OptimizerConfig,
  ) {
    this.config = resolveOptimizerConfig(config);
    const name = this.config.name;
    const count = layout.trainableSize;
    this.stateNames = OPTIMIZER_RULES[name].stateNames;
    if (this.stateNames.length !== UPDATE_STATE_SLOTS[name]) {
      throw new Error(`optimizer ${name}: host names ${this.stateNames.length} state tensors, the kernel ${UPDATE_STATE_SLOTS[name]}`);
    }
    this.state = this.stateNames.length ? ctx.storage(`optim/${name}/state`, this.stateNames.length * count * 4) : undefined;
    this.gradNorm = ctx.storage('optim/grad_norm', 4);
    this.squares = ctx.storage('optim/grad_squares', count * 4);
    this.sumOfSquares = ctx.storage('optim/grad_sum_of_squares', 4);
    this.meanOfSquares = ctx.storage('optim/grad_mean_of_squares', 4);
  }

  /** Updates recorded so far (counted when recorded: a step that is never submitted still counts). */
  get step(): number {
    return this.updates;
  }

  /** Records clipping (if configured) and one update of `params` from `grad` (both flat, layout.totalSize floats) into `step`. */
  record(step: Step, params: GPUBuffer, grad: GPUBuffer): void {
    for (const [what, buffer] of [['params', params], ['grad', grad]] as const) {
      if (buffer.size < this.layout.totalSize * 4) {
        throw new Error(`optimizer update: ${what} buffer '${buffer.label}' has ${buffer.size} bytes; the layout needs ${this.layout.totalSize} floats (${this.layout.totalSize * 4} bytes)`);
      }
    }
    const count = this.layout.trainableSize;
    this.updates += 1;
    const uniforms = updateUniforms(this.config, this.updates, count);
    step.run(gradSquaresProgram, { grad, squares: this.squares }, uniforms);
    recordSegmentedReduce(step, this.squares, 1, count, { sums: this.sumOfSquares, means: this.meanOfSquares });
    step.run(optimUpdateProgram(this.config.name), { params, grad, sum_of_squares: this.sumOfSquares, grad_norm: this.gradNorm, state: this.state }, uniforms);
  }

  async saveState(): Promise<OptimizerState> {
    const tensors: Record<string, Float32Array> = {};
    if (this.state) {
      const all = await this.ctx.readF32(this.state);
      const count = this.layout.trainableSize;
      this.stateNames.forEach((name, s) => (tensors[name] = all.slice(s * count, (s + 1) * count)));
    }
    return { step: this.updates, tensors };
  }

  loadState(state: OptimizerState): void {
    const count = this.layout.trainableSize;
    const where = `loading ${describeOptimizer(this.config)} state`;
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`${where}: step must be an integer ≥ 0, got ${state.step}`);
    const given = Object.keys(state.tensors).sort();
    const expected = [...this.stateNames].sort();
    if (given.join() !== expected.join()) {
      throw new Error(`${where}: expected state tensors [${expected.join(', ')}], got [${given.join(', ')}]; was it saved by another optimizer?`);
    }
    for (const name of this.stateNames) {
      const values = state.tensors[name]!;
      if (!(values instanceof Float32Array) || values.length !== count) {
        const got = values instanceof Float32Array ? `${values.length} floats` : 'not a Float32Array';
        throw new Error(`${where}: tensor ${name} must be a Float32Array of ${count} elements (the model's trainable prefix), got ${got}`);
      }
    }
    this.stateNames.forEach((name, s) => this.ctx.device.queue.writeBuffer(this.state!, s * count * 4, state.tensors[name] as Float32Array<ArrayBuffer>));
    this.updates = state.step;
  }

  /** η_p over the trainable prefix (SPEC §5) from the current state. */
  async preconditioner(): Promise<Float64Array> {
    const rule = OPTIMIZER_RULES[this.config.name];
    const count = this.layout.trainableSize;
    const slot = rule.rateState === undefined ? -1 : this.stateNames.indexOf(rule.rateState);
    const values = slot >= 0 ? await this.ctx.readF32(this.state!, slot * count * 4, count) : undefined;
    return rule.preconditioner(this.config, values, this.updates, count);
  }

  destroy(): void {
    for (const b of [this.state, this.gradNorm, this.squares, this.sumOfSquares, this.meanOfSquares]) b?.destroy();
  }
}
