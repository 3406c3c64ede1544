// Drives the GPU window engine on host arrays and derives per-value tolerances from the float64 twin.
import { expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { WindowEngine, type EnvelopeTable, type WindowConfig } from '../../src/diagnostics/windows.ts';

export interface HostBatch {
  count: number;
  /** [n, count, T, H]. */
  inter: Float32Array;
  /** [count, T, H] each. */
  rho?: Float32Array;
  delta?: Float32Array;
  v?: Float32Array;
}

export interface WindowRun {
  table: EnvelopeTable;
  /** Per batch: μ [L, count, T, H]. */
  mu: Float32Array[];
  /** Per batch: ψ [L, count, T] with μ, and with ρμ when the batch has ρ. */
  psi: Float32Array[];
  psiRho: Float32Array[];
}

/** One engine, one step per batch (scan, envelope, μ dump, ψ), then one readback of the accumulators. */
export async function runWindows(ctx: GpuContext, config: WindowConfig, batches: HostBatch[], etaBar?: number): Promise<WindowRun> {
  const engine = new WindowEngine(ctx, config);
  const owned: GPUBuffer[] = [];
  const upload = (label: string, data: Float32Array) => {
    const buffer = ctx.upload(label, data);
    owned.push(buffer);
    return buffer;
  };
  const storage = (label: string, values: number) => {
    const buffer = ctx.storage(label, values * 4);
    owned.push(buffer);
    return buffer;
  };
  const { steps: T, hidden: H } = config;
  const L = config.lags.length;
  const run: Omit<WindowRun, 'table'> = { mu: [], psi: [], psiRho: [] };
  try {
    for (const batch of batches) {
      const step = ctx.step('test windows');
      const rho = batch.rho && upload('test/rho', batch.rho);
      engine.recordBatch(step, upload('test/intermediates', batch.inter), batch.count, rho);
      const mu = storage('test/mu', L * batch.count * T * H);
      engine.recordMu(step, mu, batch.count);
      const reads = { mu: step.readF32(mu), psi: undefined as Promise<Float32Array> | undefined, psiRho: undefined as Promise<Float32Array> | undefined };
      if (batch.delta && batch.v) {
        const [delta, v] = [upload('test/delta', batch.delta), upload('test/v', batch.v)];
        const psi = storage('test/psi', L * batch.count * T);
        engine.recordPsi(step, delta, v, psi, batch.count);
        reads.psi = step.readF32(psi);
        if (rho) {
          const psiRho = storage('test/psi-rho', L * batch.count * T);
          engine.recordPsi(step, delta, v, psiRho, batch.count, { useRho: true });
          reads.psiRho = step.readF32(psiRho);
        }
      }
      await step.submit();
      run.mu.push(await reads.mu);
      if (reads.psi) run.psi.push(await reads.psi);
      if (reads.psiRho) run.psiRho.push(await reads.psiRho);
    }
    return { ...run, table: await engine.result(etaBar) };
  } finally {
    engine.destroy();
    for (const buffer of owned) buffer.destroy();
  }
}

export { MU_RELATIVE, muTolerance } from '../../src/doctor/tolerances.ts';

/** Indices (t, q) of the windows of one lag inside a [B, T, H] array, per sequence. */
export function* windowIndices(B: number, T: number, H: number, lag: number): Generator<[number, number, number, number]> {
  for (let b = 0; b < B; b++) for (let t = lag; t < T; t++) for (let q = 0; q < H; q++) yield [(b * T + t) * H + q, b, t, q];
}

/**
 * Checks a stage's per-lag ψ sample counts and m̄ = |mean ψ| against referencePsi's ψ over the steps where the loss
 * is taken (t ∈ [ℓ, T-1], or t = T-1 with `last`), within 1e-4 of the mean |term| (ψ's rounding scale).
 */
export function expectPsiMeans(
  got: { perLag: readonly { count: number; mbar: number }[] }, ref: { psi: Float64Array; magnitude: Float64Array }, lags: readonly number[],
  sizes: { N: number; T: number; lossSteps: 'all' | 'last' }, what = '',
): void {
  const { N, T } = sizes;
  lags.forEach((ell, l) => {
    const ts = sizes.lossSteps === 'last' ? [T - 1] : Array.from({ length: T - ell }, (_, i) => ell + i);
    let sum = 0;
    let size = 0;
    for (let b = 0; b < N; b++) {
      for (const t of ts) {
        sum += ref.psi[(l * N + b) * T + t]!;
        size += ref.magnitude[(l * N + b) * T + t]!;
      }
    }
    const count = N * ts.length;
    const lag = got.perLag[l]!;
    expect(lag.count, `${what}ℓ=${ell}: samples`).toBe(count);
    expect(Math.abs(lag.mbar - Math.abs(sum / count)), `${what}ℓ=${ell}: m̄ ${lag.mbar} vs ${Math.abs(sum / count)}`).toBeLessThanOrEqual(1e-4 * (size / count) + 1e-12);
  });
}
