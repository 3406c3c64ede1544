// μ windows, envelopes and ψ values on the GPU (SPEC §5, §7), for the diagnose stage.
//
// Use, per model:
//   const engine = new WindowEngine(ctx, { cell, batch, steps: T, hidden: H, lags: lagGrid(...), firstOrder, withRho });
//   for each diagnostic batch of `count` ≤ batch sequences, in one Step:
//     recordForward(step, { ..., batch: count, intermediates })        // SPEC §4 terms [n, count, T, H]
//     engine.recordBatch(step, intermediates, count, rho?, { psi: { delta, v, psi, useRho? } })
//                                   // prefix scan + envelope sums (+ generalized) and ψ [L, count, T], one kernel
//   const table = await engine.result(etaBar);                           // one readback for the whole run
//   engine.destroy();
// recordPsi (ψ alone, its own kernel) and recordMu reuse the prefix sums of the latest recordBatch, so record them after
// it, before the next. ψ through recordBatch is cheaper: the fused kernel evaluates each μ once for both sums.
//
// Design: a scan kernel turns the intermediates of one batch into compensated prefix sums (f32 (hi, lo) pairs) of
// log clamp(factor) and of the first-order ratios, [k, B, T+1, H]; `mu_at` (shaders/diagnostics/windows.ts) forms any
// μ_{t,q}(ℓ) from two prefix entries in O(1). Envelope sums stay on the GPU as pairs across batches; per-batch work is
// 3 dispatches (+1 for ψ), nothing is read back until result().
// Precision (shaders/diagnostics/precise.ts): a few f32 ulps times (|log μ| + 4), i.e. ≤ 5e-6 relative for |μ| > 1e-20
// against SPEC §5's 1e-4; observed 3e-7. Memory: windowPlan.
import type { GpuContext } from '../gpu/context.ts';
import type { Step } from '../gpu/step.ts';
import { checkF32Buffer } from '../gpu/buffers.ts';
import { BufferPlan } from '../gpu/buffer-plan.ts';
import { INTERMEDIATE_COUNT, type CellKind } from '../model/cells.ts';
import { hasFirstOrder, prefixQuantities, scanProgram, type WindowVariant } from '../../shaders/diagnostics/windows.ts';
import { accumulateProgram, envelopeProgram, unitLanes } from '../../shaders/diagnostics/envelope.ts';
import { muDumpProgram, psiProgram } from '../../shaders/diagnostics/psi.ts';

export interface WindowConfig {
  cell: CellKind;
  /** Largest number of sequences per diagnostic batch. */
  batch: number;
  /** T. */
  steps: number;
  /** H. */
  hidden: number;
  /** The lag grid (lagGrid in lags.ts); every lag in [1, T-1]. */
  lags: readonly number[];
  /** μ = μ0 + μ1, else μ0 (SPEC §5); the linear cell has μ = μ0 either way (SPEC §12). */
  firstOrder: boolean;
  /** Every batch brings base rates ρ [B, T, H] and the generalized envelope is accumulated (SPEC §5). */
  withRho?: boolean;
}

/** Where recordBatch also writes ψ_t(ℓ) = Σ_q μ_{t,q}(ℓ) δ_{t,q} v_{t-ℓ,q} (SPEC §7), as recordPsi does. */
export interface PsiOutput {
  /** δ [count, T, H]. */
  delta: GPUBuffer;
  /** v [count, T, H]. */
  v: GPUBuffer;
  /** ψ [L, count, T], 0 for t < ℓ. */
  psi: GPUBuffer;
  /** ρ_{t-ℓ,q} μ_{t,q} instead of μ (the batch's ρ). */
  useRho?: boolean;
}

export interface LagEnvelope {
  ell: number;
  /** f̂(ℓ) = mean_b mass_b (column mu_l1_mean). */
  muL1Mean: number;
  /** mean_b log(mass_b + 1e-30). */
  logMuL1Mean: number;
  /** μ^(q)(ℓ) = mean_{b,t} |μ_q|, [H]. */
  perUnit: Float64Array;
  sequences: number;
  /**
   * With ρ: f̃(ℓ) = mean_{b,t,q} |ρ_{t-ℓ,q} μ_{t,q}| and SPEC §5's decomposition f̃ = η̄ f̂ + mean((ρ - η̄)|μ|):
   * `etaBarTerm` = η̄ f̂, `spreadTerm` = mean((ρ - η̄)|μ|), formed in float64 from η̄-independent compensated sums.
   */
  generalized?: { mean: number; etaBarTerm: number; spreadTerm: number };
}

export interface EnvelopeTable {
  firstOrder: boolean;
  sequences: number;
  /** One row per lag of the grid, in grid order. */
  lags: LagEnvelope[];
}

export interface WindowPlanOptions {
  firstOrder: boolean;
  /** Lags in the grid (L). */
  lags: number;
  withRho?: boolean;
}

/**
 * The buffers a WindowEngine holds, per sequence of batch capacity and fixed: the prefix sums 8·k·(T+1)·H per
 * sequence (k quantities, prefixQuantities), partial sums 8·L·H per sequence (twice with ρ), the lag list 4·L and
 * the accumulators 8·L·H + 16·L. The engine allocates from this plan; the diagnostic stage sizes its batch with it.
 */
export function windowPlan(cell: CellKind, steps: number, hidden: number, options: WindowPlanOptions): BufferPlan {
  const k = prefixQuantities({ cell, firstOrder: options.firstOrder }).length;
  const L = options.lags;
  return new BufferPlan('window engine', [
    { label: 'windows/prefix', perSequence: 8 * k * (steps + 1) * hidden },
    { label: 'windows/lags', perSequence: 0, fixed: 4 * L },
    { label: 'windows/partial_mu', perSequence: 8 * L * hidden },
    ...(options.withRho ? [{ label: 'windows/partial_rho', perSequence: 8 * L * hidden }] : []),
    { label: 'windows/unit_sums', perSequence: 0, fixed: 8 * L * hidden },
    { label: 'windows/lag_sums', perSequence: 0, fixed: 16 * L },
  ]);
}

function checkSize(what: string, buffer: GPUBuffer, shape: readonly number[]): void {
  checkF32Buffer('window engine', what, buffer, shape);
}

function checkConfig(c: WindowConfig): void {
  for (const [name, value] of [['batch', c.batch], ['steps', c.steps], ['hidden', c.hidden]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`window engine: ${name} must be a whole number ≥ 1, got ${value}`);
  }
  if (c.lags.length === 0) throw new RangeError('window engine: the lag grid is empty');
  for (const ell of c.lags) {
    if (!Number.isSafeInteger(ell) || ell < 1 || ell > c.steps - 1) {
      throw new RangeError(`window engine: lag ${ell} is outside [1, T-1] = [1, ${c.steps - 1}] (SPEC §5 windows end at t ∈ [ℓ, T-1]); lower lag_max`);
    }
  }
}

export class WindowEngine {
  /** Bytes of the engine's buffers on the device (windowPlan at its batch). */
  readonly bytes: number;
  private readonly variant: WindowVariant;
  private readonly lanes: number;
  private readonly prefix: GPUBuffer;
  private readonly lagList: GPUBuffer;
  private readonly partialMu: GPUBuffer;
  private readonly partialRho: GPUBuffer | undefined;
  private readonly unitSums: GPUBuffer;
  private readonly lagSums: GPUBuffer;
  private sequences = 0;
  private last: { count: number; rho?: GPUBuffer } | undefined;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: WindowConfig,
  ) {
    checkConfig(config);
    const { batch: B, steps: T, hidden: H } = config;
    const L = config.lags.length;
    this.variant = { cell: config.cell, firstOrder: config.firstOrder };
    this.lanes = unitLanes(H);
    const plan = windowPlan(config.cell, T, H, { firstOrder: config.firstOrder, lags: L, withRho: config.withRho });
    // New buffers are zero-filled (WebGPU), so the accumulators start empty.
    const b = plan.allocate(ctx, B, { 'windows/lags': Uint32Array.from(config.lags) });
    this.prefix = b['windows/prefix']!;
    this.lagList = b['windows/lags']!;
    this.partialMu = b['windows/partial_mu']!;
    this.partialRho = b['windows/partial_rho'];
    this.unitSums = b['windows/unit_sums']!;
    this.lagSums = b['windows/lag_sums']!;
    this.bytes = plan.total(B);
  }

  /**
   * Records, for one diagnostic batch of `count` ≤ batch sequences: the prefix scan of `intermediates` (the SPEC §4
   * terms [n, planeBatch, T, H] as recordForward writes them; planeBatch defaults to count) and the per-lag
   * envelope sums, plus the generalized envelope from ρ [count, T, H] when the engine was built withRho.
   */
  recordBatch(step: Step, intermediates: GPUBuffer, count: number, rho?: GPUBuffer, options: { planeBatch?: number; psi?: PsiOutput } = {}): void {
    const { cell, batch, steps: T, hidden: H, withRho = false } = this.config;
    if (!Number.isSafeInteger(count) || count < 1 || count > batch) {
      throw new RangeError(`window engine: batch of ${count} sequences, expected 1…${batch}`);
    }
    if (withRho !== Boolean(rho)) {
      throw new Error(withRho ? 'window engine was built withRho: pass the base rates ρ [B, T, H] to recordBatch' : 'window engine got ρ but was built without withRho');
    }
    const planeBatch = options.planeBatch ?? count;
    if (planeBatch < count) throw new RangeError(`window engine: planeBatch ${planeBatch} is smaller than the batch of ${count} sequences`);
    const n = INTERMEDIATE_COUNT[cell];
    checkSize('intermediates', intermediates, [n, planeBatch, T, H]);
    if (rho) checkSize('ρ', rho, [count, T, H]);
    const psi = options.psi;
    if (psi) {
      this.checkPsiBuffers(psi, count);
      if (psi.useRho && !rho) throw new Error('window engine: ψ with useRho needs ρ: build the engine withRho and pass ρ to recordBatch');
    }
    const params = this.params(count, planeBatch);
    step.run(scanProgram(this.variant), { inter: intermediates, prefix: this.prefix }, params);
    const partialRho = rho ? this.partialRho : undefined;
    const fused = psi && { rates: psi.useRho ? ('rho' as const) : ('mu' as const), chunks: Math.ceil(H / this.lanes) };
    step.run(envelopeProgram({ ...this.variant, withRho, lanes: this.lanes, psi: fused }),
      { prefix: this.prefix, lag_list: this.lagList, partial_mu: this.partialMu, rho, partial_rho: partialRho, delta: psi?.delta, tangent: psi?.v, psi: psi?.psi }, params);
    step.run(accumulateProgram(withRho),
      { lag_list: this.lagList, partial_mu: this.partialMu, unit_sums: this.unitSums, lag_sums: this.lagSums, partial_rho: partialRho }, params);
    this.sequences += count;
    this.last = { count, rho };
  }

  /**
   * Records ψ_t(ℓ) = Σ_q μ_{t,q}(ℓ) δ_{t,q} v_{t-ℓ,q} [L, count, T] into `psi` (0 for t < ℓ), from δ and v [count, T, H]
   * of the batch last passed to recordBatch (its prefix sums are reused). `useRho`: ρ·μ with that batch's ρ.
   */
  recordPsi(step: Step, delta: GPUBuffer, v: GPUBuffer, psi: GPUBuffer, count: number, options: { useRho?: boolean } = {}): void {
    const rho = this.checkFollowsBatch('recordPsi', count, options.useRho);
    this.checkPsiBuffers({ delta, v, psi }, count);
    const program = psiProgram({ ...this.variant, useRho: Boolean(rho), lanes: this.lanes });
    step.run(program, { prefix: this.prefix, lag_list: this.lagList, delta, tangent: v, psi, rho }, this.params(count, count));
  }

  /** Records μ_{t,q}(ℓ) [L, count, T, H] (0 for t < ℓ) of the last batch into `out`: for tests and SPEC §6 comparisons. */
  recordMu(step: Step, out: GPUBuffer, count: number): void {
    this.checkFollowsBatch('recordMu', count, false);
    const { steps: T, hidden: H } = this.config;
    const L = this.config.lags.length;
    checkSize('μ', out, [L, count, T, H]);
    step.run(muDumpProgram(this.variant), { prefix: this.prefix, lag_list: this.lagList, mu: out }, this.params(count, count));
  }

  /** Records the clearing of the accumulators, to start a new run with the same engine. */
  recordReset(step: Step): void {
    step.clear(this.unitSums).clear(this.lagSums);
    this.sequences = 0;
    this.last = undefined;
  }

  /** Reads the accumulators once and forms the per-lag table in float64; `etaBar` (η̄) is needed withRho. */
  async result(etaBar?: number): Promise<EnvelopeTable> {
    const N = this.sequences;
    if (N === 0) throw new Error('window engine: no diagnostic batch was recorded; call recordBatch (and submit its step) first');
    if (this.config.withRho && etaBar === undefined) throw new Error('window engine: the generalized envelope needs the mean base rate η̄: pass it to result(etaBar)');
    const step = this.ctx.step('windows/result');
    const unitRead = step.readF32(this.unitSums);
    const lagRead = step.readF32(this.lagSums);
    await step.submit();
    const [units, lagSums] = [await unitRead, await lagRead];
    const { steps: T, hidden: H } = this.config;
    const rows = this.config.lags.map((ell, l): LagEnvelope => {
      const windows = N * (T - ell);
      const perUnit = new Float64Array(H);
      let total = 0;
      for (let q = 0; q < H; q++) {
        const sum = units[2 * (l * H + q)]! + units[2 * (l * H + q) + 1]!;
        perUnit[q] = sum / windows;
        total += sum;
      }
      const muL1Mean = total / (windows * H);
      const row: LagEnvelope = { ell, muL1Mean, logMuL1Mean: (lagSums[4 * l]! + lagSums[4 * l + 1]!) / N, perUnit, sequences: N };
      if (this.config.withRho) {
        const mean = (lagSums[4 * l + 2]! + lagSums[4 * l + 3]!) / (windows * H);
        row.generalized = { mean, etaBarTerm: etaBar! * muL1Mean, spreadTerm: mean - etaBar! * muL1Mean };
      }
      return row;
    });
    return { firstOrder: hasFirstOrder(this.variant), sequences: N, lags: rows };
  }

  destroy(): void {
    for (const b of [this.prefix, this.lagList, this.partialMu, this.partialRho, this.unitSums, this.lagSums]) b?.destroy();
  }

  private params(count: number, planeBatch: number) {
    const { steps, hidden } = this.config;
    return { count, steps, hidden, lagCount: this.config.lags.length, planeBatch, one: 1 };
  }

  private checkPsiBuffers(out: PsiOutput, count: number): void {
    const { steps: T, hidden: H } = this.config;
    checkSize('δ', out.delta, [count, T, H]);
    checkSize('v', out.v, [count, T, H]);
    checkSize('ψ', out.psi, [this.config.lags.length, count, T]);
  }

  private checkFollowsBatch(what: string, count: number, useRho: boolean | undefined): GPUBuffer | undefined {
    if (!this.last) throw new Error(`window engine: ${what} needs the prefix sums of a batch; call recordBatch first`);
    if (count !== this.last.count) throw new RangeError(`window engine: ${what} for ${count} sequences, but the last batch had ${this.last.count}`);
    if (useRho && !this.last.rho) throw new Error(`window engine: ${what} with useRho needs a batch recorded with ρ (build the engine withRho)`);
    return useRho ? this.last.rho : undefined;
  }
}
