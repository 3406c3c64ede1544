// A seeded Gaussian direction over the trainable parameters (0 elsewhere), normalised to unit L2 norm (SPEC §7):
// the tangent tests' and doctor's probe direction.
import { maskTrainable, type ParamLayout } from '../model/params.ts';
import { Rng } from '../util/random.ts';

export function unitDirection(layout: ParamLayout, seed: number): Float32Array {
  const rng = new Rng(seed);
  const w = Float64Array.from({ length: layout.totalSize }, () => rng.normal());
  maskTrainable(layout, w);
  const norm = Math.sqrt(w.reduce((sum, v) => sum + v * v, 0));
  return Float32Array.from(w, (v) => v / norm);
}
