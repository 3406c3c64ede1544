// The f32 building blocks of the window kernels (shaders/diagnostics/precise.ts) against float64 and against an
// f32 emulation (Math.fround), on the device: error-free sums, products and quotients exact, logs and exps to a few
// ulp, and a compensated chain inside a loop bit-identical to the emulation (compilers must not rewrite it).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { d } from '../../src/gpu/layout.ts';
import { defineProgram } from '../../src/gpu/program.ts';
import { preciseMath } from '../../shaders/diagnostics/precise.ts';
import { Rng } from '../../src/util/random.ts';

const gpu = useGpu();
const Params = d.struct({ n: d.u32, one: d.f32 });
const WORKGROUP = 64;

/**
 * Runs `body` on the device for inputs a, b: `per-element` computes `out: vec2f` from `a: f32, b: f32` per thread;
 * `chain` runs one thread over all elements with `acc: vec2f` carried and stored after each.
 */
async function evaluate(name: string, mode: 'per-element' | 'chain', body: string, a: Float32Array, b: Float32Array): Promise<Float32Array> {
  const main = mode === 'per-element'
    ? `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= params.n) { return; }
  let a = xs[id.x];
  let b = ys[id.x];
  ${body}
  outs[id.x] = out;
}`
    : `@compute @workgroup_size(1)
fn main() {
  var acc = vec2f(0.0);
  for (var i = 0u; i < params.n; i++) {
    let a = xs[i];
    let b = ys[i];
    ${body}
    outs[i] = acc;
  }
}`;
  const program = defineProgram({
    name: 'test_precise',
    variantKey: `${mode}:${name}`,
    bindings: [
      { name: 'xs', access: 'read', type: 'f32' },
      { name: 'ys', access: 'read', type: 'f32' },
      { name: 'outs', access: 'read_write', type: 'vec2f' },
    ],
    uniform: { name: 'params', struct: 'Params', schema: Params },
    workgroupSize: [mode === 'chain' ? 1 : WORKGROUP],
    dispatch: (p) => [mode === 'chain' ? 1 : Math.ceil(p.n / WORKGROUP)],
    shader: (head) => /* wgsl */ `
${head.declarations}
${preciseMath('params.one')}
${main}`,
  });
  const buffers = { xs: gpu.ctx.upload('test/a', a), ys: gpu.ctx.upload('test/b', b), outs: gpu.ctx.storage('test/out', a.length * 8) };
  try {
    const step = gpu.ctx.step(`test ${name}`);
    step.run(program, buffers, { n: a.length, one: 1 });
    const out = step.readF32(buffers.outs);
    await step.submit();
    return await out;
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

function inputs(n: number, seed: number, draw: (rng: Rng) => number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => draw(rng));
}

/** Largest |hi + lo - exact| / scale over the pairs of `got`. */
function worst(got: Float32Array, exact: (i: number) => number, scale: (i: number) => number = (i) => Math.abs(exact(i))): number {
  let w = 0;
  for (let i = 0; i < got.length / 2; i++) w = Math.max(w, Math.abs(got[2 * i]! + got[2 * i + 1]! - exact(i)) / scale(i));
  return w;
}

// The same operations in f32, as written (what an exact-IEEE device must produce bit for bit).
const f = Math.fround;
function twoSum(a: number, b: number): [number, number] {
  const s = f(a + b);
  const bb = f(s - a);
  return [s, f(f(a - f(s - bb)) + f(b - bb))];
}
function pairAdd(a: [number, number], b: [number, number]): [number, number] {
  const t = twoSum(a[0], b[0]);
  return twoSum(t[0], f(t[1] + f(a[1] + b[1])));
}

const N = 4096;
const ULP = 2 ** -24;

describe('precise f32 arithmetic on the device', () => {
  const a = inputs(N, 1, (r) => (r.uniform() - 0.5) * 10 ** (6 * r.uniform() - 3));
  const b = inputs(N, 2, (r) => 10 ** (-12 * r.uniform()));

  it('two_sum and two_prod are exact', async () => {
    const sums = await evaluate('two_sum', 'per-element', 'let out = two_sum(a, b);', a, b);
    expect(worst(sums, (i) => a[i]! + b[i]!, (i) => Math.abs(a[i]!) + Math.abs(b[i]!))).toBe(0);
    const products = await evaluate('two_prod', 'per-element', 'let out = two_prod(a, b);', a, b);
    expect(worst(products, (i) => a[i]! * b[i]!)).toBe(0);
  });

  it('div_pair is within 2^-44 of the quotient', async () => {
    const got = await evaluate('div_pair', 'per-element', 'let out = div_pair(vec2f(a, 0.0), b);', a, b);
    expect(worst(got, (i) => a[i]! / b[i]!)).toBeLessThan(2 ** -44);
  });

  it('compensated sums of two_sum results in a loop are bit-identical to the f32 emulation', async () => {
    // Terms larger than the running sum at first, then smaller: both orders of |acc| and |term| occur.
    const x = inputs(1024, 3, (r) => 0.06 * r.normal());
    const y = inputs(1024, 4, (r) => 1e-9 * r.normal());
    const got = await evaluate('pair_add chain', 'chain', 'acc = pair_add(acc, two_sum(a, b));', x, y);
    let acc: [number, number] = [0, 0];
    const expected = new Float32Array(2 * x.length);
    x.forEach((xi, i) => {
      acc = pairAdd(acc, twoSum(xi, y[i]!));
      expected.set(acc, 2 * i);
    });
    expect([...got]).toEqual([...expected]);
  });

  it('log_pair is within 2 ulp of log(x) over [1e-12, 1]', async () => {
    const near = inputs(N, 3, (r) => 1 - 0.3 * r.uniform());
    const xs = Float32Array.from([...b.subarray(0, N / 2), ...near.subarray(0, N / 2), 1, 0.5, 1e-12]);
    const got = await evaluate('log_pair', 'per-element', 'let out = log_pair(a);', xs, xs);
    expect(worst(got, (i) => Math.log(xs[i]!), (i) => Math.max(Math.abs(Math.log(xs[i]!)), 1e-30))).toBeLessThan(2 * ULP);
  });

  it('exp_split is within 3 ulp of exp(hi + lo) from 0 to e^-80, and 0 below e^-200', async () => {
    const hi = Float32Array.from([...inputs(N, 4, (r) => -80 * r.uniform() ** 2), -0.0, -250]);
    const lo = hi.map((x) => Math.fround(x * 1e-8 * Math.sin(x)));
    const got = await evaluate('exp_split', 'per-element', 'let out = exp_split(vec2f(a, b));', hi, lo);
    let w = 0;
    for (let i = 0; i < N + 1; i++) {
      const exact = Math.exp(hi[i]! + lo[i]!);
      w = Math.max(w, Math.abs(got[2 * i]! * 2 ** got[2 * i + 1]! - exact) / exact);
    }
    expect(w).toBeLessThan(3 * ULP);
    expect([got[2 * N + 2], got[2 * N + 3]]).toEqual([0, 0]);
  });
});
