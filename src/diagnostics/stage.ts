// The diagnostic stage (SPEC §4–§7) for one trained model, streamed over the diagnostic set in batches sized to a
// GPU memory budget and the adapter's buffer limits (sequencesPerChunk). In order, per batch: forward (SPEC §4 terms, states), tangent v along w, δ, ρ (optional),
// then the μ windows' envelope sums and ψ values for every lag; ψ goes to the host bookkeeping (exact sums,
// orientation, subsample). After the last batch: the envelopes, exact transport on sampled pairs, and the
// per-lag Diagnostics table.
import { INTERMEDIATE_COUNT, stateWidth } from '../model/cells.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import { getTensorSpec } from '../model/params.ts';
import type { SequenceData } from '../data/dataset.ts';
import { recordForward } from '../cells/forward.ts';
import { recordTangent } from '../cells/tangent.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';
import { readoutDeltaProgram } from '../../shaders/loss.ts';
import { Rng } from '../util/random.ts';
import { deriveSeed } from '../data/seeds.ts';
import { WindowEngine } from './windows.ts';
import { RhoEngine } from './rho.ts';
import { PsiAccumulator, studyDirection, DEFAULT_PSI_SUBSAMPLE } from './psi.ts';
import { exactTransport, sampleTransportPairs, transportAgreement } from './transport.ts';
import { buildDiagnostics, type Diagnostics } from './result.ts';
import { DEFAULT_MEMORY_BUDGET, sequencesPerChunk } from '../gpu/chunks.ts';

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
  /** The optimizer's final preconditioner η_p (trainable prefix): enables ρ and the generalized envelope. */
  preconditioner?: Float64Array;
  /** ψ with the generalized rates ρ·μ instead of μ (needs a preconditioner). */
  psiWithRho?: boolean;
}

export const DEFAULT_DIAGNOSTIC_BUDGET = DEFAULT_MEMORY_BUDGET;

/** Bytes per diagnostic sequence of each per-batch buffer, by label (the window engine's included). */
export function diagnosticBuffers(layout: ParamLayout, steps: number, lags: number, withRho: boolean, firstOrder: boolean): Record<string, number> {
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  const T = steps;
  return {
    'diag/x': 4 * T * D,
    'diag/y': 4 * T,
    'diag/yhat': 4 * T,
    'diag/state': 4 * stateWidth(cell) * H,
    ...(withRho && { 'diag/states': 4 * T * stateWidth(cell) * H, 'diag/rho': 4 * T * H }),
    'diag/terms': 4 * INTERMEDIATE_COUNT[cell] * T * H,
    'diag/tangent-state': 4 * tangentStateWidth(cell) * H,
    'diag/v': 4 * T * H,
    'diag/yhat-dot': 4 * T,
    'diag/delta': 4 * T * H,
    'diag/psi': 4 * lags * T,
    ...WindowEngine.buffersPerSequence(cell, T, H, { firstOrder, lags, withRho }),
  };
}

/** Bytes of per-batch buffers per diagnostic sequence. */
export function bytesPerSequence(layout: ParamLayout, steps: number, lags: number, withRho: boolean, firstOrder: boolean): number {
  return Object.values(diagnosticBuffers(layout, steps, lags, withRho, firstOrder)).reduce((sum, bytes) => sum + bytes, 0);
}

export async function runDiagnostics(ctx: GpuContext, layout: ParamLayout, params: Float32Array, data: SequenceData, options: DiagnosticsOptions): Promise<Diagnostics> {
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  const T = data.steps;
  const withRho = Boolean(options.preconditioner);
  const budget = options.memoryBudget ?? DEFAULT_DIAGNOSTIC_BUDGET;
  const perBuffer = diagnosticBuffers(layout, T, options.lags.length, withRho, options.firstOrder);
  const perSequence = bytesPerSequence(layout, T, options.lags.length, withRho, options.firstOrder);
  const batch = sequencesPerChunk(ctx.device.limits, { pass: 'diagnostics', count: data.count, buffers: perBuffer, budget, batch: options.batch });
  ctx.memory.resetPeak();
  const before = ctx.memory.live;
  const started = performance.now();

  // Buffers the set does not need (ρ's without a preconditioner) have no entry and get the 4-byte minimum.
  const sized = (label: string) => ctx.storage(label, batch * (perBuffer[label] ?? 0));
  const b = {
    params: ctx.upload('diag/params', params),
    direction: ctx.upload('diag/w', studyDirection(layout, options.wSeed)),
    x: sized('diag/x'),
    y: sized('diag/y'),
    yhat: sized('diag/yhat'),
    state: sized('diag/state'),
    states: sized('diag/states'),
    terms: sized('diag/terms'),
    tangentState: sized('diag/tangent-state'),
    v: sized('diag/v'),
    yhatDot: sized('diag/yhat-dot'),
    delta: sized('diag/delta'),
    rho: sized('diag/rho'),
    psi: sized('diag/psi'),
  };
  const windows = new WindowEngine(ctx, { cell, batch, steps: T, hidden: H, lags: options.lags, firstOrder: options.firstOrder, withRho });
  const rho = options.preconditioner ? new RhoEngine(ctx, layout, options.preconditioner) : undefined;
  const psi = new PsiAccumulator(options.lags, T, data.count, { subsample: options.psiSubsample ?? DEFAULT_PSI_SUBSAMPLE, seed: options.seed });
  try {
    for (let start = 0; start < data.count; start += batch) {
      const count = Math.min(batch, data.count - start);
      ctx.device.queue.writeBuffer(b.x, 0, data.x as Float32Array<ArrayBuffer>, start * T * D, count * T * D);
      ctx.device.queue.writeBuffer(b.y, 0, data.y as Float32Array<ArrayBuffer>, start * T, count * T);
      const step = ctx.step(`diagnostics ${cell} sequences ${start}..${start + count}`);
      step.clear(b.state).clear(b.tangentState);
      recordForward(step, {
        layout, params: b.params, x: b.x, batch: count, steps: T, state: b.state, yhat: b.yhat, intermediates: b.terms,
        stored: withRho ? { buffer: b.states, slots: T, every: 1, from: 0 } : undefined,
      });
      recordTangent(step, { layout, params: b.params, direction: b.direction, x: b.x, batch: count, steps: T, state: b.tangentState, v: b.v, yhatDot: b.yhatDot });
      step.run(readoutDeltaProgram, { P: b.params, yhat: b.yhat, y: b.y, delta: b.delta }, { count: count * T, H, outWeight: getTensorSpec(layout, 'out.weight').offset });
      if (rho) rho.recordBatch(step, { params: b.params, x: b.x, states: b.states, count, steps: T, rho: b.rho });
      windows.recordBatch(step, b.terms, count, rho ? b.rho : undefined);
      windows.recordPsi(step, b.delta, b.v, b.psi, count, { useRho: Boolean(options.psiWithRho && rho) });
      const values = step.readF32(b.psi, 0, options.lags.length * count * T);
      await step.submit();
      psi.add(await values, count);
    }
    const envelopes = await windows.result(rho?.etaBar);
    const peakBytes = ctx.memory.peak - before;
    let transport;
    if (options.transportSamples > 0) {
      const maxLag = Math.min(T - 1, Math.max(...options.lags));
      const pairs = sampleTransportPairs(options.transportSamples, data.count, T, maxLag, new Rng(deriveSeed(options.seed, 'transport')));
      const exact = exactTransport(layout, params, data.x, T, pairs, options.lags);
      transport = { ...exact, agreement: transportAgreement(envelopes.lags.map((l) => l.muL1Mean), exact.exactEnvelope) };
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
