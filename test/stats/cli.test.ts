// `lwin alpha` and `lwin stable` (src/stats/cli.ts) on temporary files, output captured.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerStatsCommands } from '../../src/stats/cli.ts';
import { writeNpy } from '../../src/io/npy.ts';
import { sampleStable } from '../../src/stats/stable-random.ts';
import { stableCdf, stableQuantile } from '../../src/stats/stable.ts';
import { Rng } from '../../src/util/random.ts';

const directory = mkdtempSync(join(tmpdir(), 'lwin-stats-cli-'));
const file = (name: string, contents: string | Uint8Array) => {
  const path = join(directory, name);
  writeFileSync(path, contents);
  return path;
};

/** Runs one command line and returns what it printed. */
async function run(...args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerStatsCommands(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((text: string) => void lines.push(text));
  try {
    await program.parseAsync(['node', 'lwin', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

afterEach(() => vi.restoreAllMocks());

const samples = sampleStable(new Rng(11), 1.6, 2, 4000);

describe('lwin alpha', () => {
  it.each([
    ['a 2-D float32 .npy (flattened)', () => file('psi.npy', writeNpy([40, 100], Float32Array.from(samples)))],
    ['a float64 .npy', () => file('psi64.npy', writeNpy([4000], samples))],
    ['a .csv, one per line', () => file('psi.csv', Array.from(samples).join('\n'))],
    ['a .txt, comma separated', () => file('psi.txt', Array.from(samples).join(', '))],
  ])('reads %s and prints α̂, σ̂, the flag and the count as JSON', async (_name, make) => {
    const report = JSON.parse(await run('alpha', make(), '--method', 'koutrouvelis', '--json'));
    expect(report.nSamples).toBe(4000);
    expect(report.method).toBe('koutrouvelis');
    expect(Math.abs(report.alpha - 1.6), `α̂ = ${report.alpha}`).toBeLessThan(0.12); // 4 SE at n = 4000
    expect(Math.abs(report.sigma / 2 - 1), `σ̂ = ${report.sigma}`).toBeLessThan(0.1);
    expect(report.alphaReliable).toBe(true);
  });
  it('prints a readable summary by default (ECF)', async () => {
    const text = await run('alpha', file('plain.npy', writeNpy([4000], samples)));
    expect(text).toMatch(/samples\s+4000/);
    expect(text).toMatch(/method\s+ecf/);
    expect(text).toMatch(/alpha\s+1\.\d+/);
    expect(text).toMatch(/reliable\s+yes/);
  });
  it.each([
    ['NaN values', () => file('nan.csv', '1\n2\nnan\n3'), /nan\.csv holds 1 non-finite value\(s\).*flat index 2.*np\.isfinite/],
    ['a word among the numbers', () => file('word.csv', '1,2\n3,abc'), /word\.csv, line 2: 'abc' is not a number/],
    ['a float16 .npy', () => file('half.npy', npyFloat16()), /half\.npy holds dtype '<f2'/],
    ['a missing file', () => join(directory, 'missing.npy'), /cannot read samples file .*missing\.npy/],
    ['an unknown extension', () => file('psi.parquet', 'x'), /unknown file type '\.parquet'/],
    ['an empty file', () => file('empty.txt', '\n'), /empty\.txt holds no samples/],
  ])('refuses %s with a message naming the file', async (_name, make, message) => {
    await expect(run('alpha', make())).rejects.toThrow(message);
  });
  it('refuses an unknown method', async () => {
    await expect(run('alpha', 'x.npy', '--method', 'hill')).rejects.toThrow(/Allowed choices are mcculloch, ecf, koutrouvelis/);
  });
});

/** 16 bytes of data relabelled as eight float16 values (a dtype lwin does not read). */
function npyFloat16(): Uint8Array {
  const bytes = writeNpy([2], Float64Array.from([1, 2]));
  const header = Buffer.from(bytes).toString('latin1').replace("'<f8'", "'<f2'").replace('(2,)', '(8,)');
  return new Uint8Array(Buffer.from(header, 'latin1'));
}

describe('lwin stable', () => {
  it('cdf at several points, negative ones included', async () => {
    const text = await run('stable', 'cdf', '--alpha', '1.5', '1', '-1', '3');
    expect(text.split('\n').map((line) => line.split('\t').map(Number))).toEqual([
      [1, stableCdf(1, 1.5)],
      [-1, stableCdf(-1, 1.5)],
      [3, stableCdf(3, 1.5)],
    ]);
  });
  it('the quantiles at p = 0 and 1 as JSON: the infinities as strings, not null', async () => {
    const report = JSON.parse(await run('stable', 'quantile', '--alpha', '1.5', '--json', '0', '0.5', '1'));
    expect(report.results).toEqual(['-Infinity', 0, 'Infinity']);
    expect(report.results.map(Number)).toEqual([-Infinity, 0, Infinity]);
    expect(await run('stable', 'quantile', '--alpha', '1.5', '0', '1')).toBe('0\t-Infinity\n1\tInfinity');
  });

  it('quantiles with a scale, as JSON', async () => {
    const report = JSON.parse(await run('stable', 'quantile', '--alpha', '1.2', '--scale', '2', '--json', '0.75', '0.95'));
    expect(report.results).toEqual([stableQuantile(0.75, 1.2, 2), stableQuantile(0.95, 1.2, 2)]);
  });
  it.each([
    [['stable', 'pdf', '--alpha', '2.5', '1'], /--alpha must lie in \[0\.5, 2\], got 2\.5/],
    [['stable', 'pdf', '--alpha', 'x', '1'], /--alpha must be a number, got 'x'/],
    [['stable', 'cdf', '--alpha', '1.5', 'one'], /value 1 must be a number, got 'one'/],
    [['stable', 'quantile', '--alpha', '1.5', '1.5'], /quantile needs probabilities in \[0, 1\], got 1\.5/],
    [['stable', 'mode', '--alpha', '1.5', '1'], /Allowed choices are cdf, pdf, quantile/],
    [['stable', 'cdf', '1'], /required option '--alpha <A>' not specified/],
  ])('%j is refused', async (args, message) => {
    await expect(run(...args)).rejects.toThrow(message);
  });
});
