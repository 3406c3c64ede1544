// Seeded pseudo-random numbers: xoshiro128** seeded through splitmix32. Same seed, same numbers, on every runtime.
// The state is four 32-bit words and can be saved and restored (checkpoints resume the exact stream).

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
    // Seeds above 2^32 still differ: fold the high bits in.
    const next = splitmix32((seed >>> 0) ^ Math.floor(seed / 2 ** 32));
    this.s = new Uint32Array([next(), next(), next(), next()]);
  }

  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4) throw new Error(`RNG state must have 4 words, got ${state.length}`);
    const rng = new Rng(0);
    rng.s = new Uint32Array(state);
    return rng;
  }

  state(): number[] {
    this.spareNormal = undefined; // the state must describe the stream exactly
    return [...this.s];
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /**
   * Fills out[0, count) with the next `count` 32-bit draws, exactly as `count` calls of nextU32 would, the state in
   * locals (the loop that generates the task data: several times faster than one call per draw).
   */
  fillU32(out: Uint32Array, count = out.length): void {
    const s = this.s;
    let s0 = s[0]!;
    let s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    for (let i = 0; i < count; i++) {
      out[i] = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  fillNormal(out: Float32Array | Float64Array, scale = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = scale * this.normal();
    return out;
  }

  fillUniform(out: Float32Array | Float64Array, lo: number, hi: number): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
