// Sweeps and aggregates, without a GPU: the plan's jobs (folders, seeds, optimizers), each job's command read back
// through `lwin run`'s own flag machinery, and the aggregate of hand-written finished runs against means and
// standard deviations worked out by hand; then the refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { QUICK_PRESET, resolveStudy, type StudyConfig } from '../../src/study/config.ts';
import { aggregateGroups, JOB_CONFIG_FILE, planJobs, prepareJobs, shellQuote } from '../../src/study/sweep.ts';
import { aggregateRuns, writeAggregate, type AggregateSeries, type MeanStd } from '../../src/study/aggregate.ts';
import { addStudyOptions, studyFromFlags, type RunFlags } from '../../src/cli/run.ts';
import { analyzeDiagnostics } from '../../src/study/statistics.ts';
import { writeCellOutputs, writeStudySummary } from '../../src/study/outputs.ts';
import { syntheticDiagnostics, SYNTHETIC_ELLS } from './synthetic-diagnostics.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lwin-sweep-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The flags `lwin run` would see for `args`, parsed by the same options as `lwin run` (addStudyOptions + --resume). */
async function runFlags(args: readonly string[]): Promise<RunFlags> {
  let flags: RunFlags | undefined;
  const program = new Command().exitOverride();
  const run = program.command('run').option('--resume');
  addStudyOptions(run).action((f: RunFlags) => {
    flags = f;
  });
  await program.parseAsync(['node', 'lwin', ...args]);
  return flags!;
}

describe('planJobs', () => {
  const seeds = [212, 1001, 2002];
  it('one optimizer: one job per seed in <out>/seed_<S>, seed and task seed follow S, w_seed stays', () => {
    const out = join(root, 'plan-one');
    const jobs = planJobs(QUICK_PRESET, seeds, ['adamw'], out);
    expect(jobs.map((j) => relative(out, j.dir))).toEqual(['seed_212', 'seed_1001', 'seed_2002']);
    for (const [i, job] of jobs.entries()) {
      expect(job.config.seed, `job ${i} seed`).toBe(seeds[i]);
      expect(job.config.task.seed, `job ${i} task seed`).toBe(seeds[i]);
      expect(job.config.wSeed, `job ${i} w_seed`).toBe(QUICK_PRESET.wSeed);
      expect(job.configFile).toBe(join(job.dir, JOB_CONFIG_FILE));
    }
  });

  it('several optimizers: <out>/<optimizer>/seed_<S>, every pair once, folders distinct and inside out', () => {
    const out = join(root, 'plan-several');
    const optimizers = ['adamw', 'sgd', 'rmsprop'];
    const jobs = planJobs(QUICK_PRESET, seeds, optimizers, out);
    expect(jobs).toHaveLength(seeds.length * optimizers.length);
    expect(new Set(jobs.map((j) => j.dir)).size).toBe(jobs.length);
    for (const job of jobs) {
      expect(relative(out, job.dir), `${job.optimizer} seed ${job.seed}`).toBe(join(job.optimizer, `seed_${job.seed}`));
      expect(job.config.optimizer).toEqual({ ...QUICK_PRESET.optimizer, name: job.optimizer });
    }
    const pairs = jobs.map((j) => `${j.optimizer}/${j.seed}`).sort();
    expect(pairs).toEqual(optimizers.flatMap((o) => seeds.map((s) => `${o}/${s}`)).sort());
    expect(aggregateGroups(jobs, out).map((g) => [relative(out, g.target), g.dirs.length])).toEqual(optimizers.map((o) => [o, seeds.length]));
  });

  it('a pinned task seed keeps the data fixed across seeds; one optimizer aggregates into out itself', () => {
    const out = join(root, 'plan-fixed');
    const jobs = planJobs({ ...QUICK_PRESET, task: { ...QUICK_PRESET.task, seed: 7 } }, seeds, ['adamw'], out, { fixedTaskSeed: true });
    expect(jobs.map((j) => j.config.task.seed)).toEqual([7, 7, 7]);
    expect(aggregateGroups(jobs, out)).toEqual([{ optimizer: 'adamw', target: out, dirs: jobs.map((j) => j.dir) }]);
  });

  const refusals: [name: string, seeds: number[], optimizers: string[], message: RegExp][] = [
    ['no seeds', [], ['adamw'], /no seeds/],
    ['a seed twice', [212, 212], ['adamw'], /seed 212 is listed twice/],
    ['a negative seed', [-1], ['adamw'], /seed -1 is not a non-negative integer/],
    ['no optimizers', [212], [], /no optimizers/],
    ['an unknown optimizer', [212], ['adam'], /unknown optimizer adam; expected one of sgd, sgd_momentum, adamw, rmsprop/],
  ];
  it.each(refusals)('refuses %s', (_name, s, o, message) => {
    expect(() => planJobs(QUICK_PRESET, s, o, join(root, 'refused'))).toThrow(message);
  });

  it('quotes what a shell would split', () => {
    expect(shellQuote('runs/seed_212/study_config.json')).toBe('runs/seed_212/study_config.json');
    expect(shellQuote('my runs')).toBe(`'my runs'`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
  });
});

describe('a job\'s command reproduces its configuration', () => {
  const settings: [name: string, preset: 'quick' | 'paper', overrides: Record<string, unknown>][] = [
    ['quick preset', 'quick', {}],
    ['paper preset', 'paper', {}],
    ['quick with changed knobs and optional fields', 'quick', {
      cells: ['gru', 'const'], model: { hidden: 16, layernorm: false }, optimizer: { lr: 0.02, clip: null, momentum: 0.9 },
      epochs: 3, rho: false, diagBatch: 32, bpttCheckpoint: 8, lagGrid: { min: 3, max: 40, num: 12 }, alphaMethod: 'mcculloch',
    }],
  ];
  it.each(settings)('%s', async (name, preset, overrides) => {
    const config = resolveStudy(preset, overrides);
    const out = join(root, `commands ${name}`);
    const jobs = planJobs(config, [212, 4004], ['adamw', 'sgd_momentum'], out, { preset, extraArgs: ['--backend', 'vulkan'] });
    await prepareJobs(jobs);
    for (const job of jobs) {
      expect(job.command, 'the command line is its argv, quoted').toBe(['lwin', ...job.args].map(shellQuote).join(' '));
      expect(job.args.slice(0, 1)).toEqual(['run']);
      const flags = await runFlags(job.args);
      expect(flags.out, `${job.dir}: --out`).toBe(job.dir);
      expect(flags.resume, `${job.dir}: --resume`).toBe(true);
      expect(flags.backend).toBe('vulkan');
      expect(relative(job.dir, flags.config!), 'the config file lies in the job folder').toBe(JOB_CONFIG_FILE);
      const reproduced = await studyFromFlags(flags);
      expect(reproduced, `${job.dir}: configuration read back`).toEqual(job.config);
      expect(reproduced.seed).toBe(job.seed);
      expect(reproduced.optimizer.name).toBe(job.optimizer);
    }
  });
});

describe('prepareJobs', () => {
  it('rewrites an identical plan, refuses a folder holding a run with other settings', async () => {
    const out = join(root, 'prepare');
    await prepareJobs(planJobs(QUICK_PRESET, [212], ['adamw'], out));
    await prepareJobs(planJobs(QUICK_PRESET, [212], ['adamw'], out));
    const other: StudyConfig = { ...QUICK_PRESET, epochs: 9, optimizer: { ...QUICK_PRESET.optimizer, lr: 0.1 } };
    await expect(prepareJobs(planJobs(other, [212], ['adamw'], out))).rejects.toThrow(/seed_212.study_config\.json differs in optimizer\.lr, epochs/);
    const kept = JSON.parse(await readFile(join(out, 'seed_212', JOB_CONFIG_FILE), 'utf8')) as StudyConfig;
    expect(kept.epochs, 'nothing was overwritten').toBe(QUICK_PRESET.epochs);
  });
});

// ---- aggregate ----------------------------------------------------------------------------------------------------

const SUMMARY_HEADER = 'ell,mu_l1_mean,log_mu_l1_mean,alpha_hat,sigma_alpha_hat,N_required_at_eps,best_snr,err_at_best_snr,best_N_for_ell,mbar_scalar,alpha_reliable,alpha_method,n_samples';
const H_N_HEADER = 'N,H_N,H_N_contiguous';

interface FakeCell {
  ell: number[];
  mu: (number | string)[];
  logMu: (number | string)[];
  alpha: number[];
  sigma: number[];
  nRequired: number[];
  mbar: number[];
  N: number[];
  hN: (number | string)[];
  hNContiguous: (number | string)[];
}

/** A finished run as outputs.ts lays it out: H_N_summary.csv naming the cells, and each cell's two files. */
async function writeFakeRun(dir: string, cells: Record<string, FakeCell>, skip: string[] = []): Promise<string> {
  const names = Object.keys(cells);
  await mkdir(dir, { recursive: true });
  const N = Object.values(cells)[0]!.N;
  const summaryHeader = ['N', ...names.map((c) => `H_N_${c}`), ...names.map((c) => `contiguous_H_N_${c}`)].join(',');
  await writeFile(join(dir, 'H_N_summary.csv'), `${summaryHeader}\n${N.map((n) => [n, ...names.flatMap(() => [1, 1])].join(',')).join('\n')}\n`);
  for (const [cell, c] of Object.entries(cells)) {
    await mkdir(join(dir, cell), { recursive: true });
    const rows = c.ell.map((ell, i) => [ell, c.mu[i], c.logMu[i], c.alpha[i], c.sigma[i], c.nRequired[i], 3.5, 0.01, 400, c.mbar[i], 1, 'ecf', 8000].join(','));
    const files: [string, string][] = [
      [`${cell}_summary.csv`, `${SUMMARY_HEADER}\n${rows.join('\n')}\n`],
      [`${cell}_H_N.csv`, `${H_N_HEADER}\n${c.N.map((n, i) => [n, c.hN[i], c.hNContiguous[i]].join(',')).join('\n')}\n`],
    ];
    for (const [name, text] of files) if (!skip.includes(name)) await writeFile(join(dir, cell, name), text);
  }
  return dir;
}

const gruRuns: FakeCell[] = [
  { ell: [4, 8, 16], mu: [1, 0.5, 0.25], logMu: [0, '-inf', 1], alpha: [1.5, 1.2, 2], sigma: [0.1, 0.2, 0.3], nRequired: [25, 100, -1], mbar: [2, 4, 6], N: [25, 50], hN: [4, 8], hNContiguous: [4, 8] },
  { ell: [4, 8, 16], mu: [3, 0.5, 0.75], logMu: [2, -1, 3], alpha: [1.7, 1.2, 2], sigma: [0.3, 0.2, 0.3], nRequired: [50, -1, -1], mbar: [4, 4, 6], N: [25, 50], hN: [8, 16], hNContiguous: [4, 16] },
  { ell: [4, 8, 16], mu: [2, 0.5, 'nan'], logMu: [4, -3, 5], alpha: [1.6, 1.2, 2], sigma: [0.2, 0.2, 0.3], nRequired: [75, 400, -1], mbar: [6, 4, 6], N: [25, 50], hN: [12, 'nan'], hNContiguous: [4, 12] },
];
const constRun: FakeCell = { ell: [2, 3], mu: [1, 2], logMu: [0, 0.5], alpha: [1.9, 1.8], sigma: [0.1, 0.1], nRequired: [25, 50], mbar: [1, 1], N: [25, 50], hN: [3, 3], hNContiguous: [3, 3] };

/** Expected mean, std, n of the (hand-picked) column values, worked out by hand. */
const HAND: Record<string, Record<string, [number, number, number][]>> = {
  summary: {
    // ell 4: 1,3,2 → 2 ± 1; ell 8: 0.5 ×3 → 0.5 ± 0; ell 16: 0.25,0.75 (nan left out) → 0.5 ± √0.125
    mu_l1_mean: [[2, 1, 3], [0.5, 0, 3], [0.5, Math.sqrt(0.125), 2]],
    // ell 8: -inf left out: -1,-3 → -2 ± √2
    log_mu_l1_mean: [[2, 2, 3], [-2, Math.SQRT2, 2], [3, 2, 3]],
    alpha_hat: [[1.6, 0.1, 3], [1.2, 0, 3], [2, 0, 3]],
    sigma_alpha_hat: [[0.2, 0.1, 3], [0.2, 0, 3], [0.3, 0, 3]],
    mbar_scalar: [[4, 2, 3], [4, 0, 3], [6, 0, 3]],
    // -1 (not detected) left out: ell 8: 100,400 → 250 ± 150√2; ell 16: none
    N_required_at_eps: [[50, 25, 3], [250, 150 * Math.SQRT2, 2], [NaN, NaN, 0]],
  },
  windows: {
    H_N: [[8, 4, 3], [12, Math.sqrt(32), 2]],
    H_N_contiguous: [[4, 0, 3], [12, 4, 3]],
  },
};

function expectClose(got: MeanStd, [mean, std, n]: [number, number, number], where: string): void {
  expect(got.n, `${where}: n`).toBe(n);
  for (const [what, g, e] of [['mean', got.mean, mean], ['std', got.std, std]] as const) {
    if (Number.isNaN(e)) expect(g, `${where}: ${what}`).toBeNaN();
    else expect(Math.abs(g - e), `${where}: ${what} expected ${e}, got ${g} (tolerance 1e-12·max(1,|e|))`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(e)));
  }
}

function expectSeries(series: AggregateSeries, expected: Record<string, [number, number, number][]>, cell: string): void {
  expect(series.columns).toEqual(Object.keys(expected));
  series.columns.forEach((column, j) => {
    expected[column]!.forEach((e, row) => expectClose(series.values[row]![j]!, e, `${cell} ${series.key}=${series.keys[row]} ${column}`));
  });
}

describe('aggregateRuns', () => {
  let runs: string[];
  beforeAll(async () => {
    runs = await Promise.all(gruRuns.map((gru, i) => writeFakeRun(join(root, 'agg', `seed_${i}`), i < 2 ? { gru, const: constRun } : { gru })));
  });

  it('per lag and per budget: mean, sample std and count of finite values; -1 never enters N_required', async () => {
    const table = await aggregateRuns(runs);
    expect(table.cells.map((c) => [c.cell, c.runs.length])).toEqual([['gru', 3], ['const', 2]]);
    const gru = table.cells[0]!;
    expect(gru.summary.keys).toEqual([4, 8, 16]);
    expect(gru.windows.keys).toEqual([25, 50]);
    expectSeries(gru.summary, HAND.summary!, 'gru');
    expectSeries(gru.windows, HAND.windows!, 'gru');
    const constCell = table.cells[1]!;
    expectClose(constCell.summary.values[1]![0]!, [2, 0, 2], 'const ell=3 mu_l1_mean');
  });

  it('writes <target>/aggregate/<cell>_summary_aggregate.csv and <cell>_H_N_aggregate.csv', async () => {
    const target = join(root, 'agg-target');
    const written = await writeAggregate(target, await aggregateRuns(runs));
    expect(written.map((p) => relative(target, p))).toEqual([
      'aggregate/gru_summary_aggregate.csv', 'aggregate/gru_H_N_aggregate.csv',
      'aggregate/const_summary_aggregate.csv', 'aggregate/const_H_N_aggregate.csv', 'aggregate/runs.json',
    ]);
    const summary = (await readFile(join(target, 'aggregate', 'gru_summary_aggregate.csv'), 'utf8')).trimEnd().split('\n').map((l) => l.split(','));
    expect(summary[0]).toEqual(['ell', ...Object.keys(HAND.summary!).flatMap((c) => [`${c}_mean`, `${c}_std`, `${c}_n`])]);
    const at = (row: number, column: string) => summary[row]![summary[0]!.indexOf(column)];
    expect([at(1, 'ell'), at(1, 'mu_l1_mean_mean'), at(1, 'mu_l1_mean_std'), at(1, 'mu_l1_mean_n')]).toEqual(['4', '2', '1', '3']);
    expect([at(3, 'N_required_at_eps_mean'), at(3, 'N_required_at_eps_std'), at(3, 'N_required_at_eps_n')]).toEqual(['nan', 'nan', '0']);
    const windows = await readFile(join(target, 'aggregate', 'gru_H_N_aggregate.csv'), 'utf8');
    expect(windows.split('\n')[0]).toBe('N,H_N_mean,H_N_std,H_N_n,H_N_contiguous_mean,H_N_contiguous_std,H_N_contiguous_n');
    expect(windows.split('\n')[1]).toBe('25,8,4,3,4,0,3');
  });

  it('reads what outputs.ts writes', async () => {
    const options = { alphaMethod: 'ecf' as const, budgets: [25, 100, 400, 1600], eps: 0.1 };
    const dirs = [join(root, 'real', 'seed_1'), join(root, 'real', 'seed_2')];
    for (const [i, dir] of dirs.entries()) {
      const diagnostics = syntheticDiagnostics('gru', 11 + i);
      const stats = analyzeDiagnostics(diagnostics, options);
      await writeCellOutputs(dir, 'gru', stats, diagnostics);
      await writeStudySummary(dir, [{ cell: 'gru', stats }], QUICK_PRESET);
    }
    const [gru] = (await aggregateRuns(dirs)).cells;
    expect(gru!.summary.keys).toEqual(SYNTHETIC_ELLS);
    expect(gru!.windows.keys).toEqual(options.budgets);
    expect(gru!.summary.values.every((row) => row[0]!.n === 2), 'mu_l1_mean from both runs at every lag').toBe(true);
  });

  describe('refusals', () => {
    it('no folders', async () => {
      await expect(aggregateRuns([])).rejects.toThrow(/nothing to aggregate/);
    });
    it('a folder twice', async () => {
      await expect(aggregateRuns([runs[0]!, `${runs[0]!}/`])).rejects.toThrow(/seed_0\/? is listed twice/);
    });
    it('a folder that is not a finished study (no H_N_summary.csv)', async () => {
      const unfinished = join(root, 'agg-bad', 'unfinished');
      await mkdir(join(unfinished, 'gru'), { recursive: true });
      const missing = join(root, 'agg-bad', 'missing');
      const error = aggregateRuns([runs[0]!, unfinished, missing]);
      await expect(error).rejects.toThrow(`${unfinished} has no H_N_summary.csv`);
      await expect(aggregateRuns([unfinished])).rejects.toThrow(`an unfinished study; finish it with \`lwin run --resume --out ${unfinished}\``);
      await expect(aggregateRuns([join(root, 'agg')])).rejects.toThrow(`a sweep's folder, not a study; pass its runs (${join(root, 'agg', 'seed_0')}`);
      await expect(aggregateRuns([join(root, 'agg', 'seed_0', 'gru')])).rejects.toThrow(/not a study output folder/);
      await expect(aggregateRuns([missing])).rejects.toThrow(`${missing} is not a folder`);
    });
    it('a cell\'s file missing', async () => {
      const dir = await writeFakeRun(join(root, 'agg-bad', 'no-window'), { gru: gruRuns[0]! }, ['gru_H_N.csv']);
      await expect(aggregateRuns([runs[0]!, dir])).rejects.toThrow(`${join(dir, 'gru', 'gru_H_N.csv')} is missing`);
    });
    it('lag grids that differ, naming both folders', async () => {
      const dir = await writeFakeRun(join(root, 'agg-bad', 'other-lags'), { gru: { ...gruRuns[0]!, ell: [4, 8, 32] } });
      const refused = aggregateRuns([runs[0]!, dir]);
      await expect(refused).rejects.toThrow(/lag \(gru\) grids differ/);
      await expect(aggregateRuns([runs[0]!, dir])).rejects.toThrow(`${runs[0]} has ell = 3 values 4…16, ${dir} has ell = 3 values 4…32`);
    });
    it('runs whose settings differ besides the seeds, listing each setting with its values and runs; nothing written', async () => {
      const withConfig = async (name: string, config: StudyConfig) => {
        const dir = await writeFakeRun(join(root, 'agg-settings', name), { gru: gruRuns[0]! });
        await writeFile(join(dir, 'study.json'), JSON.stringify({ config }));
        return dir;
      };
      const a = await withConfig('a', { ...QUICK_PRESET, seed: 1, task: { ...QUICK_PRESET.task, seed: 1 } });
      const b = await withConfig('b', { ...QUICK_PRESET, seed: 2, task: { ...QUICK_PRESET.task, seed: 2 } });
      const c = await withConfig('c', { ...QUICK_PRESET, epochs: 12, trainSequences: 999 });
      // Seeds alone may differ: that is what a sweep varies.
      await expect(aggregateRuns([a, b])).resolves.toMatchObject({ differences: [], unchecked: [] });
      await expect(aggregateRuns([a, b, c])).rejects.toThrow(
        'cannot aggregate: the runs differ in settings besides the seeds (seed, task.seed); nothing was written:\n' +
          `  trainSequences: 384 (${a}, ${b}), 999 (${c})\n  epochs: 8 (${a}, ${b}), 12 (${c})\n` +
          'Aggregate only runs with the same settings, or pass --allow-different',
      );
      // --allow-different averages them and records the differences in runs.json.
      const table = await aggregateRuns([a, b, c], { allowDifferent: true });
      expect(table.differences.map((d) => d.setting)).toEqual(['trainSequences', 'epochs']);
      await writeAggregate(join(root, 'agg-settings'), table);
      const recorded = JSON.parse(await readFile(join(root, 'agg-settings', 'aggregate', 'runs.json'), 'utf8'));
      expect(recorded.settings_differ[1]).toEqual({ setting: 'epochs', values: [{ value: 8, runs: [a, b] }, { value: 12, runs: [c] }] });
      // A run without study.json cannot be compared: it is reported, not hidden.
      await expect(aggregateRuns([a, runs[0]!])).resolves.toMatchObject({ unchecked: [runs[0]] });
    });
    it('budget grids that differ', async () => {
      const dir = await writeFakeRun(join(root, 'agg-bad', 'other-budgets'), { gru: { ...gruRuns[0]!, N: [25, 100] } });
      await expect(aggregateRuns([runs[0]!, dir])).rejects.toThrow(/budget \(gru\) grids differ/);
    });
  });
});
