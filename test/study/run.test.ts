// A whole study at a tiny size: every output file, resume after an interruption (and its refusal with other
// settings), `diagnose` reproducing the run, and configurations refused before any work.
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { diagnoseCell, runStudy, studyData } from '../../src/study/run.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { readNpyFile, writeNpy } from '../../src/io/npy.ts';

const gpu = useGpu();

const TINY = {
  cells: ['const', 'gru'],
  task: { steps: 32, inputSize: 3, lags: [2, 4, 8], coeffs: [0.6, 0.5, 0.4], noiseStd: 0.3, seed: 5 },
  trainSequences: 64, diagSequences: 24, model: { hidden: 8 }, epochs: 2, batch: 32,
  lagGrid: { min: 1, max: 16, num: 8 }, transportSamples: 2, psiSubsample: 600, checkpointEvery: 1, rho: true,
};

const CELL_FILES = (cell: string) => [
  `${cell}_summary.csv`, `${cell}_mu_units.csv`, `${cell}_tau_from_mu_units.csv`, `${cell}_tau_from_mu_stats.json`,
  `${cell}_envelope_fits.json`, `${cell}_H_N.csv`, `${cell}_learning_curve.csv`, `gate_stats_${cell}.csv`, `${cell}.safetensors`,
];

describe('lwin run at a tiny size', () => {
  it('writes every output, resumes after an interruption, and diagnose reproduces the run', async () => {
    const out = await mkdtemp(join(tmpdir(), 'lwin-study-'));
    try {
      const config = resolveStudy('quick', TINY);
      await runStudy(gpu.ctx, config, out);
      for (const cell of ['const', 'gru']) for (const file of CELL_FILES(cell)) await expect(stat(join(out, cell, file))).resolves.toBeTruthy();
      for (const file of ['H_N_summary.csv', 'cli_args.csv', 'study.json', 'study_config.json']) await expect(stat(join(out, file))).resolves.toBeTruthy();
      const summary = await readFile(join(out, 'gru', 'gru_summary.csv'), 'utf8');
      expect(summary.split('\n')[0]).toBe('ell,mu_l1_mean,log_mu_l1_mean,alpha_hat,sigma_alpha_hat,N_required_at_eps,best_snr,err_at_best_snr,best_N_for_ell,mbar_scalar,alpha_reliable,alpha_method,n_samples');
      expect(summary.trim().split('\n')).toHaveLength(1 + 8);
      const hn = await readFile(join(out, 'H_N_summary.csv'), 'utf8');
      expect(hn.split('\n')[0]).toBe('N,H_N_const,H_N_gru,contiguous_H_N_const,contiguous_H_N_gru');

      // Interrupt: gru's results vanish as if the process died before its last write; const stays finished.
      const constMtime = (await stat(join(out, 'const', 'const_summary.csv'))).mtimeMs;
      await unlink(join(out, 'gru', 'gru_cell.json'));
      await unlink(join(out, 'gru', 'gru_summary.csv'));
      await runStudy(gpu.ctx, config, out, { resume: true });
      expect((await stat(join(out, 'const', 'const_summary.csv'))).mtimeMs).toBe(constMtime);
      expect(await readFile(join(out, 'gru', 'gru_summary.csv'), 'utf8')).toBe(summary);

      // diagnose on the trained weights (and optimizer state) gives the same numbers.
      const model = readSafetensors(await readFile(join(out, 'gru', 'gru.safetensors')), { source: 'gru.safetensors' });
      const record = JSON.parse(await readFile(join(out, 'gru', 'gru_cell.json'), 'utf8'));
      const again = join(out, 'again');
      await diagnoseCell(gpu.ctx, { ...config, rho: false }, 'gru', model.layout, Float32Array.from(model.params), studyData(config).diagnostic, undefined, again);
      const rediagnosed = await readFile(join(again, 'gru', 'gru_summary.csv'), 'utf8');
      const column = (csv: string, name: string) => csv.trim().split('\n').map((l) => l.split(',')).map((r, _i, rows) => r[rows[0]!.indexOf(name)]);
      expect(column(rediagnosed, 'mu_l1_mean')).toEqual(column(summary, 'mu_l1_mean'));
      expect(record.stats.lags.length).toBe(8);

      // Resuming with other settings is refused, listing them; the study's files stay as they were.
      const kept = await Promise.all(['study.json', 'cli_args.csv', 'H_N_summary.csv'].map((f) => readFile(join(out, f), 'utf8')));
      const other = resolveStudy('quick', { ...TINY, epochs: 3, seed: 9 });
      await expect(runStudy(gpu.ctx, other, out, { resume: true })).rejects.toThrow(
        `${out} holds a study with other settings (${join(out, 'study.json')}); nothing was run or overwritten. Settings that differ (folder → now):\n  epochs: 2 → 3\n  seed: 212 → 9\n`,
      );
      expect(await Promise.all(['study.json', 'cli_args.csv', 'H_N_summary.csv'].map((f) => readFile(join(out, f), 'utf8')))).toEqual(kept);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe("lwin run with PyTorch's layers (SPEC §13)", () => {
  it('rnn, torch_gru and torch_lstm train, are diagnosed and write every output, weights under PyTorch names', async () => {
    const out = await mkdtemp(join(tmpdir(), 'lwin-study-torch-'));
    try {
      const cells = ['rnn', 'torch_gru', 'torch_lstm'];
      const config = resolveStudy('quick', { ...TINY, cells });
      await runStudy(gpu.ctx, config, out);
      for (const cell of cells) for (const file of CELL_FILES(cell)) await expect(stat(join(out, cell, file))).resolves.toBeTruthy();
      const hn = await readFile(join(out, 'H_N_summary.csv'), 'utf8');
      expect(hn.split('\n')[0]).toBe('N,H_N_rnn,H_N_torch_gru,H_N_torch_lstm,contiguous_H_N_rnn,contiguous_H_N_torch_gru,contiguous_H_N_torch_lstm');
      for (const cell of cells) {
        const rows = (await readFile(join(out, cell, `${cell}_summary.csv`), 'utf8')).trim().split('\n').slice(1);
        expect(rows, `${cell}: one summary row per lag`).toHaveLength(8);
        const mu = rows.map((r) => Number(r.split(',')[1]));
        expect(mu.every((v) => Number.isFinite(v) && v >= 0), `${cell} mu_l1_mean ${mu.join(' ')}`).toBe(true);
      }
      const gru = readSafetensors(await readFile(join(out, 'torch_gru', 'torch_gru.safetensors')), { source: 'torch_gru.safetensors' });
      expect(gru.layout.tensors.map((t) => `${t.name} [${t.shape.join(',')}]`)).toEqual([
        'weight_ih_l0 [24,3]', 'weight_hh_l0 [24,8]', 'bias_ih_l0 [24]', 'bias_hh_l0 [24]', 'out.weight [1,8]', 'out.bias [1]',
      ]);
      const gates = await readFile(join(out, 'torch_gru', 'gate_stats_torch_gru.csv'), 'utf8');
      expect(gates).toContain('z_mean');
      expect(gates).toContain('rdiag_mean');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('lwin run above 256 hidden units (issue 17: H up to 1024 in every recurrent kernel)', () => {
  it('trains, diagnoses with two units per thread in every kernel (ρ included), and the exact transport agrees with the envelope', async () => {
    const out = await mkdtemp(join(tmpdir(), 'lwin-study-h300-'));
    try {
      const config = resolveStudy('quick', { ...TINY, cells: ['lstm'], model: { hidden: 300 }, epochs: 1, diagSequences: 8, lagGrid: { min: 1, max: 8, num: 4 } });
      const [record] = await runStudy(gpu.ctx, config, out, { report: false });
      expect(record!.stats.hidden).toBe(300);
      expect(record!.stats.lags.every((l) => l.muL1Mean > 0 && Number.isFinite(l.mbar))).toBe(true);
      expect(record!.stats.transport?.agreement.spearman).toBeGreaterThan(0.9);
      expect(record!.diagnostics.etaBar, 'ρ ran: η̄ from the optimizer').toBeGreaterThan(0);
      expect(record!.stats.lags.every((l) => l.generalized && Number.isFinite(l.generalized.mean))).toBe(true);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 240_000);
});

describe("lwin run with a K-class head (SPEC §13: ce at the last step)", () => {
  it('trains and diagnoses on your data: accuracy in the learning curve, one ψ sample per sequence and lag, the report says so', async () => {
    const out = await mkdtemp(join(tmpdir(), 'lwin-study-ce-'));
    const example = join(import.meta.dirname, '..', '..', 'examples', 'pytorch');
    try {
      const config = resolveStudy('quick', {
        ...TINY, cells: ['torch_gru'], data: { x: join(example, 'x.npy'), y: join(example, 'y.npy') }, model: { hidden: 8, outputs: 2, loss: 'ce', lossSteps: 'last' },
      });
      await runStudy(gpu.ctx, config, out);
      const curve = (await readFile(join(out, 'torch_gru', 'torch_gru_learning_curve.csv'), 'utf8')).trim().split('\n').slice(1).map((r) => r.split(',').map(Number));
      for (const [, , trainAcc, , valAcc] of curve) expect(trainAcc! >= 0 && trainAcc! <= 1 && valAcc! >= 0 && valAcc! <= 1, `accuracies ${trainAcc} ${valAcc}`).toBe(true);
      const summary = (await readFile(join(out, 'torch_gru', 'torch_gru_summary.csv'), 'utf8')).trim().split('\n');
      const samples = summary[0]!.split(',').indexOf('n_samples');
      const sequences = String(readNpyFile(join(example, 'y.npy')).shape[0]);
      expect(summary.slice(1).map((r) => r.split(',')[samples])).toEqual(Array(8).fill(sequences));
      expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('Cross-entropy (left, log scale) and accuracy (right)');
      await expect(runStudy(gpu.ctx, resolveStudy('quick', { ...TINY, cells: ['torch_gru'], model: { hidden: 8, outputs: 2, loss: 'ce' } }), join(out, 'task'))).rejects.toThrow(
        'a readout of K=2 with the ce loss at all steps needs your data (--x, --y): the multi-lag task has one regression target per step',
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('study configurations refused before any work', () => {
  it.each([
    ['an unknown setting', { epochz: 3 }, /epochz/],
    ['an unknown cell', { cells: ['elman'] }, /cells/],
    ['a lag grid reaching the sequence length', { task: { steps: 64 }, lagGrid: { min: 2, max: 64, num: 8 } }, /lagGrid.max \(64\) must be below the sequence length 64/],
    ['task lags and coefficients of different lengths', { task: { lags: [2, 4], coeffs: [0.5] } }, /2 lags but task.coeffs 1/],
    ['a cell listed twice', { cells: ['gru', 'gru'] }, /twice/],
    ['budgets not increasing', { budgets: [100, 50] }, /increase strictly/],
    ['more lags than integers in the grid', { lagGrid: { min: 2, max: 5, num: 10 } }, /exceeds the 4 integers/],
    ['a negative learning rate', { optimizer: { lr: -1 } }, /optimizer.lr/],
    ['an unknown α method', { alphaMethod: 'hill' }, /alphaMethod/],
    ['a hidden size beyond the kernels', { model: { hidden: 2048 } }, /model.hidden/],
    ['task lags reaching the sequence length', { task: { steps: 32 } }, /task.lags must be below task.steps \(32\); got 4,8,16,24,32: give a longer --steps or smaller --task-lags/],
    ['--x without --y', { data: { x: 'x.npy' } }, /data.x is given without data.y: --x and --y go together/],
    ['--diag-x without --diag-y', { data: { x: 'x.npy', y: 'y.npy', diagX: 'dx.npy' } }, /data.diagX is given without data.diagY: --diag-x and --diag-y go together; give both .npy files, or neither/],
    ['--diag-y without --diag-x', { data: { x: 'x.npy', y: 'y.npy', diagY: 'dy.npy' } }, /data.diagY is given without data.diagX/],
    ['diagnostic data without training data', { data: { diagX: 'dx.npy', diagY: 'dy.npy' } }, /data.diagX and data.diagY need data.x and data.y/],
  ])('%s', (_name, overrides, pattern) => {
    expect(() => resolveStudy('quick', overrides)).toThrow(pattern);
  });

  it('says once that an inverted lag grid is inverted (not also that num exceeds a negative count)', () => {
    expect(() => resolveStudy('quick', { lagGrid: { min: 20, max: 16, num: 32 } })).toThrow(
      /has a problem; nothing was run:\n  lagGrid.min \(20\) exceeds lagGrid.max \(16\) \(--lag-min, --lag-max\): the grid runs from min up to max$/,
    );
  });

  it('refuses diagnostic data whose D differs from the training data\'s, naming both files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwin-diag-d-'));
    try {
      const file = async (name: string, shape: number[]) => {
        const path = join(dir, name);
        await writeFile(path, writeNpy(shape, new Float32Array(shape.reduce((a, b) => a * b, 1))));
        return path;
      };
      const data = { x: await file('x.npy', [4, 6, 3]), y: await file('y.npy', [4, 6]), diagX: await file('dx.npy', [2, 6, 5]), diagY: await file('dy.npy', [2, 6]) };
      expect(() => studyData(resolveStudy('quick', { data }))).toThrow(
        `the diagnostic X file ${data.diagX} has D=5 features per step, but the training X file ${data.x} has D=3; the diagnostics run the model trained on the training data`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('envelope trajectory and profile', () => {
  it('--track-every K records the envelope, time scales, ρ envelope and lag recovery every K epochs', async () => {
    const out = await mkdtemp(join(tmpdir(), 'lwin-track-'));
    try {
      const config = resolveStudy('quick', { ...TINY, cells: ['diag'], epochs: 4, trackEvery: 2 });
      await runStudy(gpu.ctx, config, out);
      const rows = (await readFile(join(out, 'diag', 'diag_trajectory.csv'), 'utf8')).trim().split('\n');
      expect(rows[0]).toBe('epoch,ell,mu_l1_mean,log_mu_l1_mean,generalized_mean,eta_bar,tau_median,tau_finite_fraction');
      const epochs = rows.slice(1).map((r) => Number(r.split(',')[0]));
      expect([...new Set(epochs)]).toEqual([2, 4]);
      expect(epochs.length).toBe(2 * 8);
      for (const row of rows.slice(1)) {
        const [, , mu, , generalized, etaBar] = row.split(',').map(Number);
        expect(mu).toBeGreaterThan(0);
        expect(generalized).toBeGreaterThan(0);
        expect(etaBar).toBeGreaterThan(0);
      }
      // Lag recovery (SPEC §12) beside it: ĉ(ℓ) for ℓ = 1…16 at epochs 2 and 4, with the task's coefficients.
      const recovery = (await readFile(join(out, 'diag', 'diag_lag_recovery.csv'), 'utf8')).trim().split('\n');
      expect(recovery[0]).toBe('epoch,ell,c_hat,c_true');
      const parsed = recovery.slice(1).map((r) => r.split(',').map(Number));
      expect(parsed.length).toBe(2 * 16);
      expect(parsed.filter((r) => r[3] !== 0).map((r) => [r[1], r[3]])).toEqual([[2, 0.6], [4, 0.5], [8, 0.4], [2, 0.6], [4, 0.5], [8, 0.4]]);
      expect(parsed.every((r) => Number.isFinite(r[2]))).toBe(true);
      // Learned against learnable in study.json and the report.
      const study = JSON.parse(await readFile(join(out, 'study.json'), 'utf8'));
      const learned = study.cells[0].learned as { lag: number; coeff: number; insideWindow: boolean; learnedAtEpoch: number | null }[];
      expect(learned.map((r) => [r.lag, r.coeff])).toEqual([[2, 0.6], [4, 0.5], [8, 0.4]]);
      // SPEC §12: learned at the first recorded epoch with ĉ(ℓ_k)/c_k ≥ 1/2 in the recovery CSV, else never.
      for (const r of learned) {
        const first = parsed.filter((p) => p[1] === r.lag).sort((a, b) => a[0]! - b[0]!).find((p) => p[2]! / r.coeff >= 0.5);
        expect(r.learnedAtEpoch, `lag ${r.lag}`).toBe(first ? first[0] : null);
      }
      const report = await readFile(join(out, 'report.html'), 'utf8');
      expect(report).toMatch(/Learned against learnable/);
      expect(report).toMatch(/Recovered coefficient ĉ\(ℓ\) over training: diag/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('lwin profile prints the kernel table of a short run', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const args = ['bin/lwin.js', 'profile', '--cells', 'gru', '--steps', '24', '--task-lags', '2,4', '--task-coeffs', '0.5,0.4', '--hidden', '8',
      '--train-sequences', '32', '--diag-sequences', '8', '--batch', '16', '--lag-min', '1', '--lag-max', '12', '--num-lags', '6', '--psi-subsample', '100'];
    const { stdout } = await promisify(execFile)('node', args, { timeout: 120_000 });
    expect(stdout).toMatch(/GPU time per kernel/);
    for (const kernel of ['forward_gru', 'backward_gru', 'optim_update', 'tangent_gru', 'window_envelope']) expect(stdout).toMatch(new RegExp(`${kernel}\\s+\\d+`));
  });
});
