// The statistics stage on the host: tail-index estimation for 128 lags × 200 000 ψ samples, per method
// (the paper's lag grid and lwin's default per-lag subsample).
import { estimateStable, ALPHA_METHODS } from '../src/stats/estimate.ts';
import { sampleStable } from '../src/stats/stable-random.ts';
import { Rng } from '../src/util/random.ts';

export function benchStats(lags = 128, samplesPerLag = 200_000): void {
  const rng = new Rng(7);
  // Different α per lag, as a real ψ table has; generated once, outside the timing.
  const data = Array.from({ length: lags }, (_, i) => sampleStable(rng, 1.1 + (0.9 * i) / Math.max(1, lags - 1), 1, samplesPerLag));
  console.log(`statistics stage: ${lags} lags × ${samplesPerLag} samples (host, single thread)`);
  for (const method of ALPHA_METHODS) {
    const t0 = performance.now();
    let reliable = 0;
    for (const samples of data) if (estimateStable(samples, method).alphaReliable) reliable++;
    const seconds = (performance.now() - t0) / 1000;
    console.log(`  ${method.padEnd(13)} ${seconds.toFixed(2)} s (${((1000 * seconds) / lags).toFixed(1)} ms per lag), ${reliable}/${lags} reliable`);
  }
  console.log();
}
