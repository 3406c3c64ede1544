// A study's files: exact names and headers, rows that read back to the numbers written, inf/-inf/nan spelled as
// pandas reads them, plain JSON, and no temporary files left behind by the atomic writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeDiagnostics, type CellStatistics } from '../../src/study/statistics.ts';
import { writeCellOutputs, writeStudyJson, writeStudySummary, SUMMARY_COLUMNS } from '../../src/study/outputs.ts';
import { csvField, flattenConfig, toPlainJson } from '../../src/study/format.ts';
import { PAPER_BUDGETS } from '../../src/stats/detectability.ts';
import { syntheticDiagnostics } from './synthetic-diagnostics.ts';
import { cliArgsRows, pythonFloat } from '../../src/study/cli-args.ts';
import { QUICK_PRESET } from '../../src/study/config.ts';
import { expectClose } from '../stats/close.ts';

/** RFC 4180 reader for the tests: quoted fields may hold commas and doubled quotes. */
function parseCsv(text: string): string[][] {
  expect(text.endsWith('\n'), 'a CSV file ends with a newline').toBe(true);
  return text.slice(0, -1).split('\n').map((line) => {
    const fields: string[] = [];
    let i = 0;
    while (i <= line.length) {
      if (line[i] === '"') {
        let value = '';
        i++;
        while (!(line[i] === '"' && line[i + 1] !== '"')) {
          value += line[i] === '"' ? '"' : line[i];
          i += line[i] === '"' ? 2 : 1;
        }
        fields.push(value);
        i += 2;
      } else {
        const end = line.indexOf(',', i) === -1 ? line.length : line.indexOf(',', i);
        fields.push(line.slice(i, end));
        i = end + 1;
      }
    }
    return fields;
  });
}

/** How pandas reads a numeric field. */
function pandasNumber(field: string): number {
  if (field === 'inf') return Infinity;
  if (field === '-inf') return -Infinity;
  if (field === 'nan' || field === '') return NaN;
  const value = Number(field);
  expect(Number.isNaN(value), `'${field}' is a number`).toBe(false);
  return value;
}

const readCsv = async (path: string) => parseCsv(await readFile(path, 'utf8'));
const options = { alphaMethod: 'ecf' as const, budgets: PAPER_BUDGETS, eps: 0.1, constS: 0.05 };
const constDiagnostics = syntheticDiagnostics('const');
const constStats = analyzeDiagnostics(constDiagnostics, options);
const gruStats = analyzeDiagnostics(syntheticDiagnostics('gru', 11), options);
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lwin-outputs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeCellOutputs', () => {
  it('writes exactly the cell files, atomically (no temporary files left)', async () => {
    const written = await writeCellOutputs(dir, 'const', constStats, constDiagnostics);
    const names = ['summary.csv', 'mu_units.csv', 'tau_from_mu_units.csv', 'tau_from_mu_stats.json', 'envelope_fits.json', 'H_N.csv', 'tau_const.json'].map((n) => `const_${n}`);
    expect(written.map((p) => p.slice(join(dir, 'const').length + 1)).sort()).toEqual([...names].sort());
    // Written twice: the rename replaces the files and leaves nothing else.
    await writeCellOutputs(dir, 'const', constStats, constDiagnostics);
    expect((await readdir(join(dir, 'const'))).sort()).toEqual([...names].sort());
  });

  it('summary: exact header, and every row reads back to the statistics', async () => {
    const [header, ...rows] = await readCsv(join(dir, 'const', 'const_summary.csv'));
    expect(header).toEqual([...SUMMARY_COLUMNS]);
    expect(header!.join(',')).toBe(
      'ell,mu_l1_mean,log_mu_l1_mean,alpha_hat,sigma_alpha_hat,N_required_at_eps,best_snr,err_at_best_snr,best_N_for_ell,mbar_scalar,alpha_reliable,alpha_method,n_samples',
    );
    expect(rows).toHaveLength(constStats.lags.length);
    rows.forEach((row, l) => {
      const r = constStats.lags[l]!;
      const expected = [r.ell, r.muL1Mean, r.logMuL1Mean, r.alphaHat, r.sigmaHat, r.nRequired, r.bestSnr, r.errAtBestSnr, r.bestNForEll, r.mbar];
      expected.forEach((value, c) => expect(pandasNumber(row[c]!), `row ${l} ${header![c]}`).toBe(value));
      expect(row[10]).toBe(r.alphaReliable ? '1' : '0');
      expect(row[11]).toBe(r.alphaMethod);
      expect(pandasNumber(row[12]!)).toBe(r.nSamples);
    });
  });

  it('spells ±∞ and NaN as inf, -inf and nan', async () => {
    const stats: CellStatistics = structuredClone(constStats);
    stats.lags[0]!.bestSnr = Infinity;
    stats.lags[1]!.logMuL1Mean = -Infinity;
    stats.lags[2]!.errAtBestSnr = NaN;
    await writeCellOutputs(dir, 'odd', stats, constDiagnostics);
    const rows = await readCsv(join(dir, 'odd', 'odd_summary.csv'));
    expect(rows[1]![6]).toBe('inf');
    expect(rows[2]![2]).toBe('-inf');
    expect(rows[3]![7]).toBe('nan');
    expect([csvField(Infinity), csvField(-Infinity), csvField(NaN), csvField(true), csvField(false)]).toEqual(['inf', '-inf', 'nan', '1', '0']);
  });

  it('per-unit envelopes: ell then mu_unit_0…mu_unit_{H-1}', async () => {
    const [header, ...rows] = await readCsv(join(dir, 'const', 'const_mu_units.csv'));
    expect(header).toEqual(['ell', 'mu_unit_0', 'mu_unit_1', 'mu_unit_2', 'mu_unit_3']);
    rows.forEach((row, l) => expect(row.map(pandasNumber)).toEqual([constDiagnostics.perLag[l]!.ell, ...constDiagnostics.perLag[l]!.perUnit]));
  });

  it('time scales: fitted units only, τ = inf where the envelope does not decay; stats JSON with nulls', async () => {
    const [header, ...rows] = await readCsv(join(dir, 'const', 'const_tau_from_mu_units.csv'));
    expect(header).toEqual(['unit_id', 'tau', 'C', 'a', 'b', 'r2', 'num_points']); // the reference's header
    expect(rows.map((r) => r[0])).toEqual(['0', '1', '2']);
    expect(rows[2]![1]).toBe('inf');
    rows.forEach((row, q) => {
      const u = constStats.timescales.units[q]!;
      expect(row.map(pandasNumber)).toEqual([u.unit, u.tau, u.amplitude, u.intercept, u.slope, u.r2, u.lagsUsed]);
    });
    // Unit 0 is μ^(0) = 0.5 e^{-ℓ/10}: a = log 0.5, b = -0.1, τ = -1/b, C = e^a, over the 8 lags.
    const [, tau, C, a, b, , points] = rows[0]!.map(pandasNumber);
    expectClose('a', a!, Math.log(0.5), { rel: 1e-12 });
    expectClose('b', b!, -0.1, { rel: 1e-12 });
    expectClose('tau = -1/b', tau!, -1 / b!, { rel: 1e-15 });
    expectClose('C = e^a', C!, Math.exp(a!), { rel: 1e-15 });
    expect(points).toBe(8);
    const tauStats = JSON.parse(await readFile(join(dir, 'const', 'const_tau_from_mu_stats.json'), 'utf8'));
    expect(tauStats).toMatchObject({ model: 'const', num_units: 3, num_finite: 2, num_infinite: 1, num_unfit: 1, units_total: 4 });
    expect(tauStats.tau_mean).toBe(constStats.timescales.summary.mean);
    expect(tauStats.const_gate.tau).toBe(-1 / Math.log1p(-0.05));
    const constJson = JSON.parse(await readFile(join(dir, 'const', 'const_tau_const.json'), 'utf8'));
    expect(constJson).toEqual({ s: 0.05, leak: 0.95, tau: -1 / Math.log1p(-0.05) });
  });

  it('envelope fits: exactly the reference keys, signed slopes; lwin additions under lwin', async () => {
    const fits = JSON.parse(await readFile(join(dir, 'const', 'const_envelope_fits.json'), 'utf8'));
    const { exponential: e, power: p } = constStats.envelope.regimes!;
    expect(Object.keys(fits).sort()).toEqual(['exp', 'lwin', 'power']);
    expect(fits.exp).toEqual({ a: e.intercept, b: e.slope, r2: e.r2, tau_env: e.tauEnv });
    // The reference's master-law script reads power.beta, else power.d: with no beta here it gets d, the signed slope
    // of log f̂ on log ℓ, as with the reference's own files (a decaying envelope: d < 0).
    expect(fits.power).toEqual({ c: p.intercept, d: p.slope, r2: p.r2 });
    expect(fits.power.d).toBeLessThan(0);
    expectClose('log f̂ = -ℓ/20: exp slope', fits.exp.b, -1 / 20, { rel: 1e-12 });
    expect(fits.lwin.power.beta).toBe(-fits.power.d);
    expect(fits.lwin.exp.lambda).toBe(-fits.exp.b);
    expect(fits.lwin.preferred).toBe('exponential');
    expect(fits.lwin.master.ells).toEqual(constStats.master.ells);
    expect(fits.lwin.asymptotic.predictions.length).toBeGreaterThan(0);
  });

  it('H_N: N, H_N, H_N_contiguous per budget', async () => {
    const [header, ...rows] = await readCsv(join(dir, 'const', 'const_H_N.csv'));
    expect(header).toEqual(['N', 'H_N', 'H_N_contiguous']);
    expect(rows.map((r) => r.map(pandasNumber))).toEqual(constStats.windows.map((w) => [w.budget, w.window, w.contiguousWindow]));
  });

  it('refuses a cell name that is not a plain file name', async () => {
    await expect(writeCellOutputs(dir, '../escape', constStats, constDiagnostics)).rejects.toThrow(/cannot name a directory/);
  });
});

describe('writeStudySummary and writeStudyJson', () => {
  const config = {
    seed: 212,
    cells: ['const', 'gru'],
    train: { optimizer: 'adamw', lr: 1e-3, betas: [0.9, 0.999] },
    budgets: PAPER_BUDGETS,
    layernorm: true,
    note: 'say "hi", twice',
    eps: Infinity,
    missing: undefined,
    nothing: null,
  };

  it('H_N_summary: one row per N, H_N_<cell> then contiguous_H_N_<cell>; cli_args: argument,value', async () => {
    const written = await writeStudySummary(dir, [{ cell: 'const', stats: constStats }, { cell: 'gru', stats: gruStats }], config);
    expect(written).toEqual([join(dir, 'H_N_summary.csv'), join(dir, 'cli_args.csv')]);
    const [header, ...rows] = await readCsv(join(dir, 'H_N_summary.csv'));
    expect(header).toEqual(['N', 'H_N_const', 'H_N_gru', 'contiguous_H_N_const', 'contiguous_H_N_gru']);
    rows.forEach((row, i) => {
      const [c, g] = [constStats.windows[i]!, gruStats.windows[i]!];
      expect(row.map(pandasNumber)).toEqual([c.budget, c.window, g.window, c.contiguousWindow, g.contiguousWindow]);
    });
    const args = await readCsv(join(dir, 'cli_args.csv'));
    // The reference's names first, in its order and Python's spelling (cells → models, budgets → N_grid), then the rest.
    expect(args).toEqual([
      ['argument', 'value'],
      ['models', 'const,gru'],
      ['seed', '212'],
      ['N_grid', `[${PAPER_BUDGETS.join(', ')}]`],
      ['eps', 'inf'],
      ['train.optimizer', 'adamw'],
      ['train.lr', '0.001'],
      ['train.betas', '0.9,0.999'],
      ['layernorm', 'True'],
      ['note', 'say "hi", twice'],
      ['nothing', ''],
    ]);
    expect(flattenConfig({ runs: [{ seed: 1 }, { seed: 2 }] })).toEqual([['runs.0.seed', '1'], ['runs.1.seed', '2']]);
  });

  it('cli_args of a study configuration: every reference argument lwin has, then lwin\'s other settings', () => {
    const rows = cliArgsRows({ ...QUICK_PRESET, optimizer: { ...QUICK_PRESET.optimizer, clip: null }, diagBatch: 16 });
    const names = rows.map(([name]) => name);
    expect(names.slice(0, 29)).toEqual([
      'models', 'seed', 'Nseq_train', 'Nseq_diag', 'T', 'D', 'H', 'optimizer', 'epochs', 'batch_size', 'lr', 'weight_decay',
      'grad_clip', 'const_s', 'lag_min', 'lag_max', 'num_lags', 'task_lags', 'task_coeffs', 'noise_std', 'N_grid', 'eps',
      'alpha_method', 'w_seed', 'include_first_order_diag', 'orth_init', 'layernorm', 'gate_log_every', 'diag_batch_size',
    ]);
    const value = (name: string) => rows.find(([n]) => n === name)![1];
    expect(['T', 'H', 'task_lags', 'task_coeffs', 'grad_clip', 'lr', 'orth_init', 'include_first_order_diag'].map(value))
      .toEqual(['128', '32', '[4, 8, 16, 24, 32]', '[0.6, 0.5, 0.4, 0.32, 0.26]', '0.0', '0.005', 'True', '1']);
    // What lwin has beyond the reference follows, flattened; nothing appears twice.
    expect(names.slice(29)).toEqual(expect.arrayContaining(['task.seed', 'rho', 'psiSubsample', 'checkpointEvery']));
    expect(names.some((n) => ['cells', 'budgets', 'task.steps', 'model.hidden', 'optimizer.lr', 'optimizer.name'].includes(n))).toBe(false);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each([
    [1, '1.0'], [0.001, '0.001'], [1e-4, '0.0001'], [1e-5, '1e-05'], [2.5e-7, '2.5e-07'], [1e16, '1e+16'], [123.5, '123.5'], [-3, '-3.0'], [Infinity, 'inf'],
  ])('floats as Python writes them: %s → %s', (x, text) => expect(pythonFloat(x)).toBe(text));

  it('study.json: typed arrays become arrays, non-finite numbers null', async () => {
    const path = await writeStudyJson(dir, { config, samples: new Float32Array([0.5, 1.5]), taus: [10, Infinity, NaN], cells: [{ stats: constStats }] });
    expect(path).toBe(join(dir, 'study.json'));
    const study = JSON.parse(await readFile(path, 'utf8'));
    expect(study.samples).toEqual([0.5, 1.5]);
    expect(study.taus).toEqual([10, null, null]);
    expect(study.config.eps).toBeNull();
    expect('missing' in study.config).toBe(false);
    expect(study.cells[0].stats.windows).toEqual(constStats.windows);
    expect(toPlainJson({ a: new Float64Array([-Infinity]), b: 1n })).toEqual({ a: [null], b: 1 });
    const names = (await readdir(dir)).filter((n) => !['const', 'odd'].includes(n)).sort();
    expect(names).toEqual(['H_N_summary.csv', 'cli_args.csv', 'study.json']);
  });
});
