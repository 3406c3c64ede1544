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
    expect(header).toEqual(['unit', 'tau', 'C', 'r2', 'lags_used']);
    expect(rows.map((r) => r[0])).toEqual(['0', '1', '2']);
    expect(rows[2]![1]).toBe('inf');
    rows.forEach((row, q) => {
      const u = constStats.timescales.units[q]!;
      expect(row.map(pandasNumber)).toEqual([u.unit, u.tau, u.amplitude, u.r2, u.lagsUsed]);
    });
    const tauStats = JSON.parse(await readFile(join(dir, 'const', 'const_tau_from_mu_stats.json'), 'utf8'));
    expect(tauStats).toMatchObject({ model: 'const', num_units: 3, num_finite: 2, num_infinite: 1, num_unfit: 1, units_total: 4 });
    expect(tauStats.tau_mean).toBe(constStats.timescales.summary.mean);
    expect(tauStats.const_gate.tau).toBe(-1 / Math.log1p(-0.05));
    const constJson = JSON.parse(await readFile(join(dir, 'const', 'const_tau_const.json'), 'utf8'));
    expect(constJson).toEqual({ s: 0.05, leak: 0.95, tau: -1 / Math.log1p(-0.05) });
  });

  it('envelope fits: the reference keys and lwin additions', async () => {
    const fits = JSON.parse(await readFile(join(dir, 'const', 'const_envelope_fits.json'), 'utf8'));
    const e = constStats.envelope.regimes!.exponential;
    expect(fits.exp).toMatchObject({ a: e.intercept, b: e.slope, r2: e.r2, tau_env: e.tauEnv });
    expect(Object.keys(fits.power)).toEqual(expect.arrayContaining(['c', 'd', 'r2', 'beta', 'aic', 'bic']));
    expect(fits.preferred).toBe('exponential');
    expect(fits.master.ells).toEqual(constStats.master.ells);
    expect(fits.asymptotic.predictions.length).toBeGreaterThan(0);
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
    expect(args).toEqual([
      ['argument', 'value'],
      ['seed', '212'],
      ['cells', 'const,gru'],
      ['train.optimizer', 'adamw'],
      ['train.lr', '0.001'],
      ['train.betas', '0.9,0.999'],
      ['budgets', PAPER_BUDGETS.join(',')],
      ['layernorm', 'True'],
      ['note', 'say "hi", twice'],
      ['eps', 'inf'],
      ['nothing', ''],
    ]);
    expect(flattenConfig({ runs: [{ seed: 1 }, { seed: 2 }] })).toEqual([['runs.0.seed', '1'], ['runs.1.seed', '2']]);
  });

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
