// Fast standard normal draws for the task data: Marsaglia & Tsang's ziggurat (J. Stat. Software 5(8), 2000,
// RNOR with 128 layers) driven by lwin's seeded Rng. The paper's training set needs 131M normals; Rng.normal()
// (Box–Muller: two 53-bit uniforms, log, sqrt, sin and cos per pair) takes about 5 s for them in Node, the
// ziggurat about 0.7 s: one 32-bit draw and a table lookup for 98.8% of samples, transcendental functions only
// in the rare wedge and tail cases.
//
// The 32-bit draw is used as a signed integer: its low 7 bits pick the layer, the whole word (sign included) the
// position in it. The low bits' reuse shifts values by at most 2^-24 relative, below float32 resolution.
// The tables are built from Math.exp/log/sqrt at load; layer bounds are truncated to integers, so the last-ulp
// differences between JavaScript engines' exp/log do not change the stream.
import type { Rng } from '../util/random.ts';

const LAYERS = 128;
const TAIL_START = 3.442619855899; // r: where the base layer's tail begins
const LAYER_AREA = 9.91256303526217e-3; // v: the area of every layer (base layer includes the tail)
const TWO_POW_31 = 2147483648;

/** Acceptance bounds on |draw| per layer (integers, so the fast test is exact). */
const bound = new Uint32Array(LAYERS);
/** Scale from the signed 32-bit draw to x per layer. */
const scale = new Float64Array(LAYERS);
/** Density exp(-x²/2) at each layer's right edge. */
const density = new Float64Array(LAYERS);

(function buildTables() {
  let edge = TAIL_START;
  let previous = edge;
  const q = LAYER_AREA / Math.exp(-0.5 * edge * edge);
  bound[0] = Math.floor((edge / q) * TWO_POW_31);
  bound[1] = 0;
  scale[0] = q / TWO_POW_31;
  scale[LAYERS - 1] = edge / TWO_POW_31;
  density[0] = 1;
  density[LAYERS - 1] = Math.exp(-0.5 * edge * edge);
  for (let i = LAYERS - 2; i >= 1; i--) {
    edge = Math.sqrt(-2 * Math.log(LAYER_AREA / edge + Math.exp(-0.5 * edge * edge)));
    bound[i + 1] = Math.floor((edge / previous) * TWO_POW_31);
    previous = edge;
    density[i] = Math.exp(-0.5 * edge * edge);
    scale[i] = edge / TWO_POW_31;
  }
})();

/** A stream of 32-bit draws: the generator's own, or fillStandardNormal's buffered view of it. */
type Draws = () => number;

/** [0, 1) from two draws, as Rng.uniform. */
function uniformOf(next: Draws): number {
  const hi = next() >>> 5;
  const lo = next() >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** The slow path: a draw outside its layer's rectangle core (wedge test), or in the base layer's tail. */
function wedgeOrTail(next: Draws, draw: number, layer: number): number {
  for (;;) {
    const x = draw * scale[layer]!;
    if (layer === 0) {
      // Marsaglia's tail method for |x| > r.
      let a: number;
      let b: number;
      do {
        a = -Math.log(1 - uniformOf(next)) / TAIL_START;
        b = -Math.log(1 - uniformOf(next));
      } while (b + b < a * a);
      return draw > 0 ? TAIL_START + a : -TAIL_START - a;
    }
    if (density[layer]! + uniformOf(next) * (density[layer - 1]! - density[layer]!) < Math.exp(-0.5 * x * x)) return x;
    draw = next() | 0;
    layer = draw & (LAYERS - 1);
    if (Math.abs(draw) < bound[layer]!) return draw * scale[layer]!;
  }
}

/** One standard normal draw. */
export function standardNormal(rng: Rng): number {
  const draw = rng.nextU32() | 0;
  const layer = draw & (LAYERS - 1);
  if (Math.abs(draw) < bound[layer]!) return draw * scale[layer]!;
  return wedgeOrTail(() => rng.nextU32(), draw, layer);
}

const BLOCK = 4096;
const block = new Uint32Array(BLOCK);

/**
 * Fills out[start, end) with standard normal draws, in index order: the values, and the generator's state after,
 * of end - start calls of standardNormal. Draws come from the generator in blocks; every normal takes at least one
 * draw, so a block of at most as many draws as normals remain (the current one included) is never overdrawn.
 */
export function fillStandardNormal(rng: Rng, out: Float32Array | Float64Array, start = 0, end = out.length): void {
  let filled = 0;
  let cursor = 0;
  let i = start;
  const next: Draws = () => {
    if (cursor === filled) {
      filled = Math.min(BLOCK, end - i);
      rng.fillU32(block, filled);
      cursor = 0;
    }
    return block[cursor++]!;
  };
  for (; i < end; i++) {
    if (cursor === filled) {
      filled = Math.min(BLOCK, end - i);
      rng.fillU32(block, filled);
      cursor = 0;
    }
    const draw = block[cursor++]! | 0; // next(), written out: the fast path makes no call
    const layer = draw & (LAYERS - 1);
    out[i] = Math.abs(draw) < bound[layer]! ? draw * scale[layer]! : wedgeOrTail(next, draw, layer);
  }
}
