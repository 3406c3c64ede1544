// Symmetric α-stable random variates by Chambers–Mallows–Stuck with β = 0 (SPEC §11):
//   V ~ U(-π/2, π/2), W ~ Exp(1), X = sin(αV)/cos(V)^{1/α} · (cos((1-α)V)/W)^{(1-α)/α}   (α = 1: tan V), then σX.
import type { Rng } from '../util/random.ts';
import { checkStableParameters } from './stable.ts';

/** One standard (σ = 1) variate. */
export function standardStableVariate(rng: Rng, alpha: number): number {
  let u = 0;
  while (u === 0) u = rng.uniform(); // V = -π/2 exactly would make cos V vanish
  const v = Math.PI * (u - 0.5);
  let w = 0;
  while (w === 0) w = -Math.log(1 - rng.uniform()); // 1 - U ∈ (0, 1]: W finite; W = 0 would divide by zero
  if (alpha === 1) return Math.tan(v);
  const head = Math.sin(alpha * v) / Math.pow(Math.cos(v), 1 / alpha);
  return head * Math.pow(Math.cos((1 - alpha) * v) / w, (1 - alpha) / alpha);
}

/** n independent variates of the symmetric α-stable law with scale σ. */
export function sampleStable(rng: Rng, alpha: number, scale: number, n: number): Float64Array {
  checkStableParameters(alpha, scale);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * standardStableVariate(rng, alpha);
  return out;
}
