// The diagnostic stage (SPEC §4–§7) for one trained model, streamed over the diagnostic set in batches sized to a
// GPU memory budget and the adapter's buffer limits (sequencesPerChunk). In order, per batch: forward (SPEC §4 terms, states), tangent v along w, δ, ρ (optional),
// then the μ windows' envelope sums and ψ values for every lag; ψ goes to the host bookkeeping (exact sums,
// orientation, subsample). After the last batch: the envelopes, exact transport on sampled pairs, and the
// per-lag Diagnostics table.
import { INTERMEDIATE_COUNT, modelLayers, readoutOutputs, stateWidth } from '../model/cells.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import { getTensorSpec } from '../model/params.ts';
import type { SequenceData } from '../data/dataset.ts';
import { recordForward } from '../cells/forward.ts';
import { recordTangent } from '../cells/tangent.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';
import { headDeltaProgram, readoutDeltaProgram } from '../../shaders/loss.ts';
import { recordReadoutLoss, type ReadoutLoss } from '../cells/backward.ts';
import { quiet, type Step } from '../gpu/step.ts';
import { OneInFlight } from '../gpu/in-flight.ts';
import { Rng } from '../util/random.ts';
import { deriveSeed } from '../data/seeds.ts';
import { WindowEngine, windowPlan } from './windows.ts';
import { RhoEngine } from './rho.ts';
import { PsiAccumulator, studyDirection, DEFAULT_PSI_SUBSAMPLE } from './psi.ts';
import { sampleTransportPairs, transportAgreement, type TransportResult } from './transport.ts';
import { exactTransportInParallel } from './transport-pool.ts';
import { buildDiagnostics, type Diagnostics } from './result.ts';
import { DEFAULT_MEMORY_BUDGET, sequencesPerChunk } from '../gpu/chunks.ts';
import { BufferPlan } from '../gpu/buffer-plan.ts';

export interface DiagnosticsOptions {
  lags: readonly number[];
  firstOrder: boolean;
  /** GPU bytes the stage may use for its per-batch buffers (the batch size follows from it). Default 512 MiB. */
  memoryBudget?: number;
  /** Sequences per diagnostic batch; derived from the budget when absent. */
  batch?: number;
  psiSubsample?: number;
  /** Seed of the study direction w (SPEC §7), fixed across lags, batches and models. */
  wSeed: number;
  /** Seed of the subsample and of the transport pairs. */
  seed: number;
  /** Sampled (sequence, t) pairs for exact transport; 0 skips it. */
  transportSamples: number;
  /**
   * SPEC §13's readout loss that δ_t comes from (default: mse at every step, the paper's). With `last`, ψ keeps
   * the t = T-1 samples only. The diagnostic targets are [N, T, K] for mse, class indices [N, T] for ce.
   */
  readoutLoss?: ReadoutLoss;
  /** The optimizer's final preconditioner η_p (trainable prefix): enables ρ and the generalized envelope. */
  preconditioner?: Float64Array;
  /** ψ with the generalized rates ρ·μ instead of μ (needs a preconditioner). */
  psiWithRho?: boolean;
  /**
   * false: envelope and ψ by their own kernels (window_envelope, then window_psi) instead of the fused one, which
   * gives the same bits; the doctor runs both paths so that each kernel is checked. Default true.
   */
  fuseWindows?: boolean;
}

export const DEFAULT_DIAGNOSTIC_BUDGET = DEFAULT_MEMORY_BUDGET;

/** The stage's own buffers (the window engine's are in windowPlan): per diagnostic sequence, and the parameters and w. */
export function stagePlan(layout: ParamLayout, steps: number, lags: number, withRho: boolean, paperLoss = true): BufferPlan {
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  const K = readoutOutputs(layout.config);
  const totalSize = layout.totalSize;
  const T = steps;
  const W = stateWidth(cell);
  // Without a preconditioner the ρ buffers are planned at 0 bytes per sequence: they exist, at WebGPU's 4-byte minimum.
  return new BufferPlan('diagnostics', [
    { label: 'diag/params', perSequence: 0, fixed: 4 * totalSize },
    { label: 'diag/w', perSequence: 0, fixed: 4 * totalSize },
    { label: 'diag/x', perSequence: 4 * T * D },
    { label: 'diag/y', perSequence: 4 * T * K },
    { label: 'diag/yhat', perSequence: 4 * T * K },
    // a K-output head or another loss: the loss's residual and per-row loss (readout_loss), which δ is formed from
    { label: 'diag/dy', perSequence: paperLoss ? 0 : 4 * T * K },
    { label: 'diag/rowloss', perSequence: paperLoss ? 0 : 4 * T },
    { label: 'diag/state', perSequence: 4 * W * H },
    { label: 'diag/states', perSequence: withRho ? 4 * T * W * H : 0 },
    { label: 'diag/terms', perSequence: 4 * INTERMEDIATE_COUNT[cell] * T * H },
    { label: 'diag/tangent-state', perSequence: 4 * tangentStateWidth(cell) * H },
    { label: 'diag/v', perSequence: 4 * T * H },
    { label: 'diag/yhat-dot', perSequence: 4 * T },
    { label: 'diag/delta', perSequence: 4 * T * H },
    { label: 'diag/rho', perSequence: withRho ? 4 * T * H : 0 },
    { label: 'diag/psi', perSequence: 4 * lags * T },
  ]);
}

/**
 * Every buffer the stage holds per diagnostic batch, the window engine's included: its per-sequence bytes size the
 * batch, and the stage and the engine allocate from its two parts (stagePlan, windowPlan). ρ's engine, whose buffers
 * do not grow with the batch, is not in it.
 */
export function diagnosticPlan(layout: ParamLayout, steps: number, lags: number, withRho: boolean, firstOrder: boolean, paperLoss = true): BufferPlan {
  const { cell, hiddenSize: H } = layout.config;
  return stagePlan(layout, steps, lags, withRho, paperLoss).with(windowPlan(cell, steps, H, { firstOrder, lags, withRho }));
}

/** Targets per step of the readout loss (K for mse, one class index for ce); refuses targets of another size. */
export function checkTargets(data: SequenceData, outputs: number, readoutLoss: ReadoutLoss): number {
  const width = readoutLoss.loss === 'mse' ? outputs : 1;
  const wanted = data.count * data.steps * width;
  if (data.y.length !== wanted) {
    throw new Error(`the diagnostic targets ${data.source} have ${data.y.length} values; the ${readoutLoss.loss} loss of a K=${outputs} head needs [N, T${width > 1 ? ', K' : ''}] = ${wanted}`);
  }
  return width;
}

/** Whether δ comes from the paper's loss (a scalar readout, mse at every step), which keeps its own kernel. */
export function isPaperLoss(layout: ParamLayout, readoutLoss: ReadoutLoss): boolean {
  return readoutOutputs(layout.config) === 1 && readoutLoss.loss === 'mse' && readoutLoss.lossSteps === 'all';
}

/**
 * Records δ_t [count, T, H] of the readout's loss: (ŷ_t - y_t) out.weight for the paper's loss, else
 * out.weightᵀ (ŷ_t - y_t) or out.weightᵀ (softmax(ŷ_t) - onehot(y_t)), 0 where no loss is taken; the readout
 * loss's ∂L/∂ŷ is that residual times a constant, which changes neither SNR, α̂ nor Ĥ_N (SPEC §13). `dy` [count, T, K]
 * is the residual's workspace (unused for the paper's loss).
 */
export function recordOutputErrors(step: Step, call: { layout: ParamLayout; params: GPUBuffer; yhat: GPUBuffer; y: GPUBuffer; dy: GPUBuffer; delta: GPUBuffer; count: number; steps: number; readoutLoss: ReadoutLoss }): void {
  const { layout, count, steps: T } = call;
  const H = layout.config.hiddenSize;
  const K = readoutOutputs(layout.config);
  const outWeight = getTensorSpec(layout, 'out.weight').offset;
  if (isPaperLoss(layout, call.readoutLoss)) {
    step.run(readoutDeltaProgram, { P: call.params, yhat: call.yhat, y: call.y, delta: call.delta }, { count: count * T, H, outWeight });
    return;
  }
  recordReadoutLoss(step, { yhat: call.yhat, y: call.y, batch: count, steps: T, outputs: K, total: step.scratch('diag/loss', 4), dy: call.dy, scale: 1, ...call.readoutLoss });
  step.run(headDeltaProgram, { P: call.params, dy: call.dy, delta: call.delta }, { count: count * T, H, K, outWeight });
}

export async function runDiagnostics(ctx: GpuContext, layout: ParamLayout, params: Float32Array, data: SequenceData, options: DiagnosticsOptions): Promise<Diagnostics> {
  if (modelLayers(layout.config) > 1) throw new Error(`runDiagnostics takes one layer; a stack of ${modelLayers(layout.config)} is diagnosed per layer by runStackDiagnostics (SPEC §13)`);
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  const T = data.steps;
  const withRho = Boolean(options.preconditioner);
  const budget = options.memoryBudget ?? DEFAULT_DIAGNOSTIC_BUDGET;
  const readoutLoss = options.readoutLoss ?? { loss: 'mse', lossSteps: 'all' };
  const K = readoutOutputs(layout.config);
  const paperLoss = isPaperLoss(layout, readoutLoss);
  const plan = diagnosticPlan(layout, T, options.lags.length, withRho, options.firstOrder, paperLoss);
  const perSequence = plan.bytesPerSequence;
  const batch = sequencesPerChunk(ctx.device.limits, { pass: 'diagnostics', count: data.count, buffers: plan.perSequence, budget, batch: options.batch });
  ctx.memory.resetPeak();
  const before = ctx.memory.live;
  const started = performance.now();

  const held = stagePlan(layout, T, options.lags.length, withRho, paperLoss).allocate(ctx, batch, { 'diag/params': params, 'diag/w': studyDirection(layout, options.wSeed) });
  const buffer = (label: string) => held[label]!;
  const b = {
    params: buffer('diag/params'),
    direction: buffer('diag/w'),
    x: buffer('diag/x'),
    y: buffer('diag/y'),
    yhat: buffer('diag/yhat'),
    state: buffer('diag/state'),
    states: buffer('diag/states'),
    terms: buffer('diag/terms'),
    tangentState: buffer('diag/tangent-state'),
    v: buffer('diag/v'),
    yhatDot: buffer('diag/yhat-dot'),
    delta: buffer('diag/delta'),
    rho: buffer('diag/rho'),
    psi: buffer('diag/psi'),
  };
  const windows = new WindowEngine(ctx, { cell, batch, steps: T, hidden: H, lags: options.lags, firstOrder: options.firstOrder, withRho });
  const rho = options.preconditioner ? new RhoEngine(ctx, layout, options.preconditioner) : undefined;
  const targetWidth = checkTargets(data, K, readoutLoss);
  const psi = new PsiAccumulator(options.lags, T, data.count, { subsample: options.psiSubsample ?? DEFAULT_PSI_SUBSAMPLE, seed: options.seed, lastOnly: readoutLoss.lossSteps === 'last' });
  // The exact transport (host, float64) runs on worker threads while the GPU works through the batches.
  let exact: Promise<TransportResult> | undefined;
  if (options.transportSamples > 0) {
    const maxLag = Math.min(T - 1, Math.max(...options.lags));
    const pairs = sampleTransportPairs(options.transportSamples, data.count, T, maxLag, new Rng(deriveSeed(options.seed, 'transport')));
    exact = quiet(exactTransportInParallel(layout, params, data.x, T, pairs, options.lags));
  }
  // One batch stays in flight: the host takes in batch k's ψ while the device runs batch k+1.
  const batches = new OneInFlight<{ values: Promise<Float32Array>; count: number }>(async ({ values, count }) => psi.add(await values, count));
  try {
    for (let start = 0; start < data.count; start += batch) {
      const count = Math.min(batch, data.count - start);
      ctx.device.queue.writeBuffer(b.x, 0, data.x as Float32Array<ArrayBuffer>, start * T * D, count * T * D);
      ctx.device.queue.writeBuffer(b.y, 0, data.y as Float32Array<ArrayBuffer>, start * T * targetWidth, count * T * targetWidth);
      const step = ctx.step(`diagnostics ${cell} sequences ${start}..${start + count}`, `diagnostics ${cell}`);
      step.clear(b.state).clear(b.tangentState);
      recordForward(step, {
        layout, params: b.params, x: b.x, batch: count, steps: T, state: b.state, yhat: b.yhat, intermediates: b.terms,
        stored: withRho ? { buffer: b.states, slots: T, every: 1, from: 0 } : undefined,
      });
      recordTangent(step, { layout, params: b.params, direction: b.direction, x: b.x, batch: count, steps: T, state: b.tangentState, v: b.v, yhatDot: b.yhatDot });
      recordOutputErrors(step, { layout, params: b.params, yhat: b.yhat, y: b.y, dy: buffer('diag/dy'), delta: b.delta, count, steps: T, readoutLoss });
      if (rho) rho.recordBatch(step, { params: b.params, x: b.x, states: b.states, count, steps: T, rho: b.rho });
      const useRho = Boolean(options.psiWithRho && rho);
      if (options.fuseWindows === false) {
        windows.recordBatch(step, b.terms, count, rho ? b.rho : undefined);
        windows.recordPsi(step, b.delta, b.v, b.psi, count, { useRho });
      } else {
        windows.recordBatch(step, b.terms, count, rho ? b.rho : undefined, { psi: { delta: b.delta, v: b.v, psi: b.psi, useRho } });
      }
      const values = step.readF32(b.psi, 0, options.lags.length * count * T);
      await batches.submit(step, { values, count });
    }
    await batches.flush();
    const envelopes = await windows.result(rho?.etaBar);
    const peakBytes = ctx.memory.peak - before;
    let transport;
    if (exact) {
      const result = await exact;
      transport = { ...result, agreement: transportAgreement(envelopes.lags.map((l) => l.muL1Mean), result.exactEnvelope) };
    }
    return buildDiagnostics({
      cell, lags: options.lags, firstOrder: options.firstOrder, sequences: data.count, steps: T, hidden: H,
      envelopes, psi: psi.finish(), transport, etaBar: rho?.etaBar,
      memory: { budget, batch, perSequence, peakBytes }, seconds: (performance.now() - started) / 1000,
    });
  } finally {
    windows.destroy();
    rho?.destroy();
    for (const buf of Object.values(b)) buf.destroy();
  }
}
