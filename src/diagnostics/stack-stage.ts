// The diagnostic stage (SPEC §4–§7) for a stack of PyTorch layers, per layer as SPEC §13 says, streamed over the
// diagnostic set in batches sized to the memory budget. Per batch, for k = 0…L-1: layer k's forward (its SPEC §4
// terms, its states), its tangent v^{(k)} (the JVP through the layers below: src/model/stack.ts), and layer k+1's
// input rows; then δ^{(L-1)} from the readout and δ^{(k)} down the stack (src/cells/stack.ts); then each layer's ρ,
// envelope sums and ψ. After the last batch: each layer's envelopes, exact transport and Diagnostics.
import { INTERMEDIATE_COUNT, modelLayers, readoutOutputs, stateWidth, type TorchCellKind } from '../model/cells.ts';
import type { ParamLayout } from '../model/params.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { SequenceData } from '../data/dataset.ts';
import { quiet, type Step } from '../gpu/step.ts';
import { OneInFlight } from '../gpu/in-flight.ts';
import type { ReadoutLoss } from '../cells/backward.ts';
import type { TorchParams } from '../model/f64/torch/config.ts';
import { layerValues, stackLayers, torchCellKind, torchParamsOf, type StackLayer } from '../model/stack.ts';
import { torchForward } from '../model/f64/torch/stack.ts';
import { recordForward } from '../cells/forward.ts';
import { recordTangent } from '../cells/tangent.ts';
import { layerErrorsWorkspace, recordLayerErrors } from '../cells/stack.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';
import { layerInputProgram } from '../../shaders/recurrence/layer-input.ts';
import { Rng } from '../util/random.ts';
import { deriveSeed } from '../data/seeds.ts';
import { WindowEngine, windowPlan } from './windows.ts';
import { RhoEngine } from './rho.ts';
import { PsiAccumulator, DEFAULT_PSI_SUBSAMPLE, stackDirections } from './psi.ts';
import { sampleTransportPairs, sampledSequences, transportAgreement, type TransportResult } from './transport.ts';
import { exactTransportInParallel } from './transport-pool.ts';
import { buildDiagnostics, type Diagnostics } from './result.ts';
import { DEFAULT_MEMORY_BUDGET, sequencesPerChunk } from '../gpu/chunks.ts';
import { BufferPlan, type PlannedBuffer } from '../gpu/buffer-plan.ts';
import { checkTargets, isPaperLoss, recordOutputErrors, runDiagnostics, type DiagnosticsOptions } from './stage.ts';

export interface StackDiagnosticsOptions extends Omit<DiagnosticsOptions, 'preconditioner' | 'fuseWindows'> {
  /** The optimizer's preconditioner η_p in the stack's layout (the shape of its parameters): enables ρ, layer by layer. */
  rates?: TorchParams;
}

/** The stage's buffers per diagnostic batch (the window engines' are counted by stackPerSequence). */
export function stackStagePlan(torch: TorchParams, layers: readonly StackLayer[], steps: number, lags: number, withRho: boolean, paperLoss: boolean): BufferPlan {
  const { inputSize: D, hiddenSize: H } = torch.layout.config;
  const cell = torchCellKind(torch.layout.config);
  const K = readoutOutputs(layers[0]!.layout.config);
  const T = steps;
  const W = stateWidth(cell);
  const work = layerErrorsWorkspace(cell, T, H);
  const buffers: PlannedBuffer[] = [
    { label: 'diag/x', perSequence: 4 * T * D },
    { label: 'diag/y', perSequence: 4 * T * K },
    { label: 'diag/yhat', perSequence: 4 * T * K },
    { label: 'diag/dy', perSequence: paperLoss ? 0 : 4 * T * K },
    { label: 'diag/yhat-dot', perSequence: 4 * T },
    { label: 'diag/layer-deltas', perSequence: layers.length > 1 ? 4 * work.deltas : 0 },
    { label: 'diag/layer-adj', perSequence: layers.length > 1 ? 4 * work.adj : 0 },
  ];
  for (const layer of layers) {
    const l = `diag/l${layer.index}`;
    const above = layer.index > 0;
    buffers.push(
      { label: `${l}/params`, perSequence: 0, fixed: 4 * layer.runLayout.totalSize },
      { label: `${l}/w`, perSequence: 0, fixed: 4 * layer.runLayout.totalSize },
      { label: `${l}/plain-params`, perSequence: 0, fixed: withRho && above ? 4 * layer.layout.totalSize : 0 },
      { label: `${l}/input`, perSequence: above ? 4 * T * 2 * H : 0 },
      { label: `${l}/plain-input`, perSequence: withRho && above ? 4 * T * H : 0 },
      { label: `${l}/state`, perSequence: 4 * W * H },
      { label: `${l}/states`, perSequence: 4 * T * W * H },
      { label: `${l}/terms`, perSequence: 4 * INTERMEDIATE_COUNT[cell] * T * H },
      { label: `${l}/tangent-state`, perSequence: 4 * tangentStateWidth(cell) * H },
      { label: `${l}/v`, perSequence: 4 * T * H },
      { label: `${l}/delta`, perSequence: 4 * T * H },
      { label: `${l}/rho`, perSequence: withRho ? 4 * T * H : 0 },
      { label: `${l}/psi`, perSequence: 4 * lags * T },
    );
  }
  return new BufferPlan('diagnostics', buffers);
}

/** Bytes per sequence by label, every layer's window engine included (sequencesPerChunk's `buffers`). */
function stackPerSequence(stage: BufferPlan, cell: TorchCellKind, layers: number, steps: number, hidden: number, windows: { firstOrder: boolean; lags: number; withRho: boolean }): Record<string, number> {
  const engine = windowPlan(cell, steps, hidden, windows).perSequence;
  const perLayer = Array.from({ length: layers }, (_, k) => Object.entries(engine).map(([label, bytes]) => [`l${k}/${label}`, bytes]));
  return { ...stage.perSequence, ...Object.fromEntries(perLayer.flat()) };
}

/** The stack's per-layer Diagnostics (index k: layer k; the last is the model's top layer). */
export async function runStackDiagnostics(ctx: GpuContext, torch: TorchParams, data: SequenceData, options: StackDiagnosticsOptions): Promise<Diagnostics[]> {
  const { hiddenSize: H, inputSize: D } = torch.layout.config;
  const cell = torchCellKind(torch.layout.config);
  const layers = stackLayers(torch);
  const L = layers.length;
  const T = data.steps;
  const withRho = Boolean(options.rates);
  const readoutLoss = options.readoutLoss ?? { loss: 'mse', lossSteps: 'all' };
  const top = layers[L - 1]!;
  const K = readoutOutputs(top.layout.config);
  const paperLoss = isPaperLoss(top.layout, readoutLoss);
  const targetWidth = checkTargets(data, K, readoutLoss);
  const budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  const stage = stackStagePlan(torch, layers, T, options.lags.length, withRho, paperLoss);
  const windowOptions = { firstOrder: options.firstOrder, lags: options.lags.length, withRho };
  const perSequenceBuffers = stackPerSequence(stage, cell, L, T, H, windowOptions);
  const perSequence = Object.values(perSequenceBuffers).reduce((a, b) => a + b, 0);
  const batch = sequencesPerChunk(ctx.device.limits, { pass: 'diagnostics', count: data.count, buffers: perSequenceBuffers, budget, batch: options.batch });
  ctx.memory.resetPeak();
  const before = ctx.memory.live;
  const started = performance.now();
  const directions = stackDirections(torch, layers, options.wSeed);
  const uploads: Record<string, ArrayBufferView> = {};
  layers.forEach((layer, k) => {
    uploads[`diag/l${k}/params`] = Float32Array.from(layer.runParams);
    uploads[`diag/l${k}/w`] = directions[k]!;
    if (withRho && k > 0) uploads[`diag/l${k}/plain-params`] = Float32Array.from(layer.params);
  });
  const held = stage.allocate(ctx, batch, uploads);
  const buffer = (label: string) => held[label]!;
  const windows = layers.map(() => new WindowEngine(ctx, { cell, batch, steps: T, hidden: H, lags: options.lags, firstOrder: options.firstOrder, withRho }));
  const { rates } = options;
  const rho = rates && layers.map((layer) => new RhoEngine(ctx, layer.layout, layerValues(rates, layer.index, layer.layout)));
  const psi = layers.map(() => new PsiAccumulator(options.lags, T, data.count, { subsample: options.psiSubsample ?? DEFAULT_PSI_SUBSAMPLE, seed: options.seed, lastOnly: readoutLoss.lossSteps === 'last' }));
  // Every layer's exact transport (host, float64) runs on worker threads while the GPU works through the batches.
  const exact = options.transportSamples > 0 ? quiet(stackTransport(torch, layers, data, options)) : undefined;
  const batches = new OneInFlight<{ values: Promise<Float32Array>[]; count: number }>(async ({ values, count }) => {
    for (let k = 0; k < L; k++) psi[k]!.add(await values[k]!, count);
  });
  try {
    for (let start = 0; start < data.count; start += batch) {
      const count = Math.min(batch, data.count - start);
      ctx.device.queue.writeBuffer(buffer('diag/x'), 0, data.x as Float32Array<ArrayBuffer>, start * T * D, count * T * D);
      ctx.device.queue.writeBuffer(buffer('diag/y'), 0, data.y as Float32Array<ArrayBuffer>, start * T * targetWidth, count * T * targetWidth);
      const step = ctx.step(`diagnostics ${cell} ×${L} sequences ${start}..${start + count}`, `diagnostics ${cell} ×${L}`);
      const values = recordStackBatch(step, { layers, buffer, windows, rho, readoutLoss, psiWithRho: Boolean(options.psiWithRho), lags: options.lags.length, steps: T }, count);
      await batches.submit(step, { values, count }); // one batch in flight, as runDiagnostics
    }
    await batches.flush();
    const envelopes = await Promise.all(windows.map((w, k) => w.result(rho?.[k]?.etaBar)));
    const peakBytes = ctx.memory.peak - before;
    const transport = exact && (await exact).map((result, k) => ({ ...result, agreement: transportAgreement(envelopes[k]!.lags.map((l) => l.muL1Mean), result.exactEnvelope) }));
    const seconds = (performance.now() - started) / 1000;
    return layers.map((_, k) => buildDiagnostics({
      cell, lags: options.lags, firstOrder: options.firstOrder, sequences: data.count, steps: T, hidden: H,
      envelopes: envelopes[k]!, psi: psi[k]!.finish(), transport: transport?.[k], etaBar: rho?.[k]?.etaBar,
      memory: { budget, batch, perSequence, peakBytes }, seconds,
    }));
  } finally {
    windows.forEach((w) => w.destroy());
    rho?.forEach((r) => r.destroy());
    for (const buf of Object.values(held)) buf.destroy();
  }
}

interface StackBatch {
  layers: readonly StackLayer[];
  /** The stage's buffers by label (stackStagePlan). */
  buffer: (label: string) => GPUBuffer;
  windows: readonly WindowEngine[];
  rho?: readonly RhoEngine[];
  readoutLoss: ReadoutLoss;
  psiWithRho: boolean;
  lags: number;
  steps: number;
}

/**
 * Records one diagnostic batch of `count` sequences (x and y already written): every layer's forward, tangent and
 * the next layer's input rows, then δ from the readout and down the stack, then each layer's ρ, envelope sums and
 * ψ. Returns each layer's ψ read-back [lags, count, T].
 */
function recordStackBatch(step: Step, b: StackBatch, count: number): Promise<Float32Array>[] {
  const { layers, buffer, steps: T } = b;
  const L = layers.length;
  const layer = (k: number, name: string) => buffer(`diag/l${k}/${name}`);
  const input = (k: number) => (k === 0 ? buffer('diag/x') : layer(k, 'input'));
  const { cell, hiddenSize: H } = layers[0]!.layout.config;
  for (let k = 0; k < L; k++) {
    const { runLayout } = layers[k]!;
    step.clear(layer(k, 'state')).clear(layer(k, 'tangent-state'));
    recordForward(step, {
      layout: runLayout, params: layer(k, 'params'), x: input(k), batch: count, steps: T, state: layer(k, 'state'), yhat: buffer('diag/yhat'),
      intermediates: layer(k, 'terms'), stored: { buffer: layer(k, 'states'), slots: T, every: 1, from: 0 },
    });
    recordTangent(step, { layout: runLayout, params: layer(k, 'params'), direction: layer(k, 'w'), x: input(k), batch: count, steps: T, state: layer(k, 'tangent-state'), v: layer(k, 'v'), yhatDot: buffer('diag/yhat-dot') });
    if (k + 1 < L) {
      const sizes = { batch: count, T, H, W: stateWidth(cell) };
      step.run(layerInputProgram, { states: layer(k, 'states'), v: layer(k, 'v'), x: layer(k + 1, 'input') }, { ...sizes, tangent: 1 });
      if (b.rho) step.run(layerInputProgram, { states: layer(k, 'states'), v: layer(k, 'v'), x: layer(k + 1, 'plain-input') }, { ...sizes, tangent: 0 });
    }
  }
  // the last layer's forward wrote ŷ last
  const top = layers[L - 1]!;
  recordOutputErrors(step, { layout: top.runLayout, params: layer(L - 1, 'params'), yhat: buffer('diag/yhat'), y: buffer('diag/y'), dy: buffer('diag/dy'), delta: layer(L - 1, 'delta'), count, steps: T, readoutLoss: b.readoutLoss });
  for (let k = L - 2; k >= 0; k--) {
    recordLayerErrors(step, {
      layout: layers[k + 1]!.runLayout, params: layer(k + 1, 'params'), x: input(k + 1), states: layer(k + 1, 'states'), batch: count, steps: T,
      above: layer(k + 1, 'delta'), below: layer(k, 'delta'), width: H, deltas: buffer('diag/layer-deltas'), adj: buffer('diag/layer-adj'),
    });
  }
  return layers.map((_, k) => {
    const rates = b.rho?.[k];
    if (rates) rates.recordBatch(step, { params: k === 0 ? layer(0, 'params') : layer(k, 'plain-params'), x: k === 0 ? input(0) : layer(k, 'plain-input'), states: layer(k, 'states'), count, steps: T, rho: layer(k, 'rho') });
    const psi = { delta: layer(k, 'delta'), v: layer(k, 'v'), psi: layer(k, 'psi'), useRho: Boolean(b.psiWithRho && rates) };
    b.windows[k]!.recordBatch(step, layer(k, 'terms'), count, rates ? layer(k, 'rho') : undefined, { psi });
    return step.readF32(layer(k, 'psi'), 0, b.lags * count * T);
  });
}

/**
 * SPEC §6's exact transport of every layer on the same sampled (sequence, t) pairs. Layer k's inputs are layer
 * k-1's h, from lwin's float64 twin of the stack run on the sampled sequences only.
 */
async function stackTransport(torch: TorchParams, layers: readonly StackLayer[], data: SequenceData, options: StackDiagnosticsOptions): Promise<TransportResult[]> {
  const T = data.steps;
  const D = torch.layout.config.inputSize;
  const maxLag = Math.min(T - 1, Math.max(...options.lags));
  const pairs = sampleTransportPairs(options.transportSamples, data.count, T, maxLag, new Rng(deriveSeed(options.seed, 'transport')));
  const { x, pairs: localPairs } = sampledSequences(pairs, data.x, T * D, (n) => new Float64Array(n));
  const forward = torchForward(torch, { x, batch: x.length / (T * D), steps: T });
  const results = await Promise.all(layers.map((layer, k) => exactTransportInParallel(layer.layout, Float64Array.from(layer.params), k === 0 ? x : forward.hidden[k - 1]!, T, localPairs, options.lags)));
  return results.map((exact) => ({ ...exact, pairs }));
}

/**
 * Every layer's Diagnostics of a model in lwin's layout: a stack of PyTorch layers through runStackDiagnostics
 * (the preconditioner, in the model's layout, split per layer by tensor name), any other model as its one layer.
 */
export async function runModelDiagnostics(ctx: GpuContext, layout: ParamLayout, params: ArrayLike<number>, data: SequenceData, options: DiagnosticsOptions): Promise<Diagnostics[]> {
  if (modelLayers(layout.config) === 1) return [await runDiagnostics(ctx, layout, Float32Array.from(params), data, options)];
  const torch = torchParamsOf(layout, params);
  const { preconditioner, fuseWindows: _fuse, ...rest } = options;
  return runStackDiagnostics(ctx, torch, data, { ...rest, ...(preconditioner && { rates: torchParamsOf(layout, preconditioner) }) });
}
