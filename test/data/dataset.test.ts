// User data from .npy (SPEC §1): round trips for float32, float64 and Y [N,T,1], and every refusal with the
// message a user would read. Also the in-memory check and the validation-set size.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDataset, loadNpyDataset, validationSize, type SequenceData } from '../../src/data/dataset.ts';
import { writeNpy } from '../../src/io/npy.ts';

const dir = mkdtempSync(join(tmpdir(), 'lwin-data-'));
let files = 0;

/** Writes a .npy file and returns its path. */
function npyFile(shape: number[], data: Float32Array | Float64Array, patch?: (header: string) => string): string {
  let bytes = writeNpy(shape, data);
  if (patch) {
    const text = Buffer.from(bytes.subarray(0, 128)).toString('latin1');
    const patched = Buffer.from(patch(text), 'latin1');
    bytes = Uint8Array.from(bytes);
    bytes.set(patched.subarray(0, 128), 0);
  }
  const path = join(dir, `array${files++}.npy`);
  writeFileSync(path, bytes);
  return path;
}

/** Values i·0.25 - 3 in C order: distinct, exact in float32, with a fractional part. */
function ramp(length: number, Type: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array): Float32Array | Float64Array {
  const out = new Type(length);
  for (let i = 0; i < length; i++) out[i] = i * 0.25 - 3;
  return out;
}

const [N, T, D] = [3, 5, 2];

describe('loading X and Y', () => {
  it.each([
    ['float32, Y [N,T]', Float32Array, [N, T]],
    ['float64, Y [N,T]', Float64Array, [N, T]],
    ['float32, Y [N,T,1]', Float32Array, [N, T, 1]],
    ['float64, Y [N,T,1]', Float64Array, [N, T, 1]],
  ] as const)('%s round-trips', (_name, Type, yShape) => {
    const x = ramp(N * T * D, Type);
    const y = ramp(N * T, Type).map((v) => -v);
    const xPath = npyFile([N, T, D], x);
    const yPath = npyFile([...yShape], y);
    const data = loadNpyDataset(xPath, yPath);
    expect([data.count, data.steps, data.inputSize]).toEqual([N, T, D]);
    expect(data.x).toBeInstanceOf(Float32Array);
    expect(data.y).toBeInstanceOf(Float32Array);
    expect(Array.from(data.x)).toEqual(Array.from(x));
    expect(Array.from(data.y)).toEqual(Array.from(y));
    expect(data.source).toBe(`${xPath} + ${yPath}`);
  });

  it('narrows float64 to the nearest float32', () => {
    const x = Float64Array.from({ length: N * T * D }, (_, i) => 0.1 * i + 1e-9);
    const data = loadNpyDataset(npyFile([N, T, D], x), npyFile([N, T], new Float64Array(N * T)));
    expect(Array.from(data.x)).toEqual(Array.from(x, Math.fround));
  });
});

describe('refusals name the file and the fix', () => {
  const goodX = () => npyFile([N, T, D], ramp(N * T * D));
  const goodY = () => npyFile([N, T], ramp(N * T));
  const withNonFinite = (shape: number[], Type: Float32ArrayConstructor | Float64ArrayConstructor, at: Record<number, number>) => {
    const data = ramp(shape.reduce((a, b) => a * b, 1), Type);
    for (const [i, v] of Object.entries(at)) data[Number(i)] = v;
    return npyFile(shape, data);
  };
  it.each<[string, () => [string, string], RegExp]>([
    ['X with 2 axes', () => [npyFile([N, T], ramp(N * T)), goodY()], /X file .*array\d+\.npy has shape \(3, 5\); lwin expects X of shape \[N, T, D\].*x\[\.\.\., None\]/],
    ['X with 4 axes', () => [npyFile([N, T, D, 1], ramp(N * T * D)), goodY()], /has shape \(3, 5, 2, 1\); lwin expects X of shape \[N, T, D\].*reshape/],
    ['Y with 1 axis', () => [goodX(), npyFile([N * T], ramp(N * T))], /Y file .*\.npy has shape \(15\); lwin expects Y of shape \[N, T\] or \[N, T, 1\]/],
    ['Y with several outputs', () => [goodX(), npyFile([N, T, 2], ramp(N * T * 2))], /has shape \(3, 5, 2\).*single output per step.*y\[\.\.\., k\]/],
    ['N mismatch', () => [goodX(), npyFile([N + 1, T], ramp((N + 1) * T))], /X file .* holds 3 sequences but Y file .* holds 4; both must hold the same sequences/],
    ['T mismatch', () => [goodX(), npyFile([N, T - 1], ramp(N * (T - 1)))], /X file .* has 5 time steps but Y file .* has 4; a target is needed for every input step/],
    ['a float16 dtype', () => [npyFile([N, T, D], ramp(N * T * D), (h) => h.replace("'<f4'", "'<f2'").replace(`(${N}, ${T}, ${D})`, `(${N}, ${T}, ${2 * D})`)), goodY()], /holds dtype '<f2'; lwin reads float32 \('<f4'\), float64 \('<f8'\) and little-endian integers: convert it in numpy/],
    ['big-endian floats', () => [goodX(), npyFile([N, T], ramp(N * T), (h) => h.replace("'<f4'", "'>f4'"))], /holds big-endian floats \('>f4'\)/],
    ['a missing file', () => [join(dir, 'missing.npy'), goodY()], /cannot read .*missing\.npy/],
    ['no sequences', () => [npyFile([0, T, D], new Float32Array(0)), npyFile([0, T], new Float32Array(0))], /X file .* is empty: shape \(0, 5, 2\) as \[N, T, D\]; it needs at least one sequence/],
    ['no features', () => [npyFile([N, T, 0], new Float32Array(0)), goodY()], /is empty: shape \(3, 5, 0\)/],
    ['no steps in Y', () => [goodX(), npyFile([N, 0], new Float32Array(0))], /Y file .* is empty: shape \(3, 0\) as \[N, T\]/],
    ['NaN in X', () => [withNonFinite([N, T, D], Float32Array, { 13: NaN, 20: Infinity }), goodY()], /X file .* holds 2 non-finite values .*the first is NaN at \(n=1, t=1, d=1\)\. lwin trains on finite float32 data: remove or impute/],
    ['Infinity in Y', () => [goodX(), withNonFinite([N, T, 1], Float64Array, { 7: -Infinity })], /Y file .* holds 1 non-finite value .*the first is -Infinity at \(n=1, t=2\)/],
    ['float64 beyond float32', () => [withNonFinite([N, T, D], Float64Array, { 2: 1e300 }), goodY()], /holds 1 non-finite value \(NaN, ±Infinity, or beyond float32\); the first is 1e\+300, beyond float32's range .* at \(n=0, t=1, d=0\)/],
  ])('%s', (_name, paths, message) => {
    const [xPath, yPath] = paths();
    expect(() => loadNpyDataset(xPath, yPath)).toThrow(message);
  });
});

describe('checkDataset', () => {
  const good = (): SequenceData => ({ x: ramp(N * T * D) as Float32Array, y: ramp(N * T) as Float32Array, count: N, steps: T, inputSize: D, source: 'memory' });
  it('accepts consistent data and returns it', () => {
    const data = good();
    expect(checkDataset(data)).toBe(data);
  });
  it.each<[string, (d: SequenceData) => SequenceData, RegExp]>([
    ['a wrong x length', (d) => ({ ...d, x: d.x.subarray(1) }), /dataset memory: x has 29 values but \[N, T, D\] = \[3, 5, 2\] needs 30/],
    ['a wrong y length', (d) => ({ ...d, count: 2, x: d.x.subarray(0, 20) }), /y has 15 values but \[N, T\] = \[2, 5\] needs 10/],
    ['float64 arrays', (d) => ({ ...d, x: Float64Array.from(d.x) as unknown as Float32Array }), /must be Float32Arrays/],
    ['a fractional count', (d) => ({ ...d, count: 1.5 }), /count \(N\) must be a non-negative integer, got 1.5/],
    ['no sequences', (d) => ({ ...d, count: 0, x: new Float32Array(0), y: new Float32Array(0) }), /dataset memory is empty: shape \(0, 5, 2\)/],
    ['NaN in y', (d) => (d.y.set([NaN], 14), d), /dataset memory: y holds 1 non-finite value .* NaN at \(n=2, t=4\)/],
  ])('refuses %s', (_name, change, message) => {
    expect(() => checkDataset(change(good()))).toThrow(message);
  });
});

describe('validationSize (SPEC §1: min(1024, max(batch, 256)))', () => {
  it.each([
    [1, 256],
    [256, 256],
    [300, 300],
    [512, 512],
    [1024, 1024],
    [4096, 1024],
  ])('batch %i → %i sequences', (batch, expected) => {
    expect(validationSize(batch)).toBe(expected);
  });
  it('refuses a batch that is not a positive integer', () => {
    expect(() => validationSize(0)).toThrow(/batch size must be a positive integer, got 0/);
  });
});
