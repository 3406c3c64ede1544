// `lwin run --layers 2` (SPEC §13): PyTorch's three layer types trained as 2-layer stacks end to end on a small
// config, every layer diagnosed side by side (H_N_summary's columns, `<cell>_l{k}_*` files, the top layer also under
// the plain names), the study resumed as finished, and the saved weights re-diagnosed by `lwin diagnose` (read back
// as a PyTorch checkpoint) to the same summaries byte for byte; two seeds' runs aggregate per layer.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'lwin-stack-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lwin = (...args: string[]) => promisify(execFile)('node', ['bin/lwin.js', ...args], { timeout: 240_000 });
const SMALL = ['--hidden', '8', '--steps', '24', '--task-lags', '2,5', '--task-coeffs', '0.5,0.4', '--train-sequences', '64', '--diag-sequences', '32', '--epochs', '2', '--batch', '16', '--lag-max', '12', '--num-lags', '4', '--psi-subsample', '100', '--transport-samples', '2'];

describe('lwin run --cells rnn,torch_gru,torch_lstm --layers 2', () => {
  it('trains, diagnoses every layer, resumes as finished, and its weights re-diagnose to the same numbers', async () => {
    const out = join(dir, 'study');
    const run = await lwin('run', '--cells', 'rnn,torch_gru,torch_lstm', '--layers', '2', ...SMALL, '--out', out);
    expect(run.stdout).toMatch(/torch_lstm: done/);
    const header = readFileSync(join(out, 'H_N_summary.csv'), 'utf8').split('\n')[0]!;
    expect(header.split(',').filter((c) => c.startsWith('H_N_'))).toEqual(['rnn', 'torch_gru', 'torch_lstm'].flatMap((c) => [`H_N_${c}_l0`, `H_N_${c}_l1`]));
    const file = (cell: string, name: string, root = out) => readFileSync(join(root, cell, name), 'utf8');
    for (const cell of ['rnn', 'torch_gru', 'torch_lstm']) {
      expect(file(cell, `${cell}_summary.csv`), `${cell}: the top layer under the plain names`).toBe(file(cell, `${cell}_l1_summary.csv`));
      expect(JSON.parse(file(cell, `${cell}_cell.json`)).layers.map((r: { cell: string }) => r.cell)).toEqual([`${cell}_l0`, `${cell}_l1`]);
    }
    const curve = file('torch_gru', 'torch_gru_learning_curve.csv').trim().split('\n');
    expect(curve).toHaveLength(3); // header and two epochs

    const resumed = await lwin('run', '--cells', 'rnn,torch_gru,torch_lstm', '--layers', '2', ...SMALL, '--out', out, '--resume');
    expect(resumed.stdout).toMatch(/torch_gru: finished earlier, kept/);
    expect(readFileSync(join(out, 'H_N_summary.csv'), 'utf8').split('\n')[0]).toBe(header);

    const again = join(dir, 'again');
    const diagnosed = await lwin('diagnose', '--weights', join(out, 'torch_gru', 'torch_gru.safetensors'), '--optimizer-state', join(out, 'torch_gru', 'torch_gru_optimizer.safetensors'), ...SMALL, '--out', again);
    expect(diagnosed.stdout).toMatch(/diagnosed torch_gru \(H=8, 2 layers, each diagnosed\)/);
    for (const layer of ['l0', 'l1']) expect(file('torch_gru', `torch_gru_${layer}_summary.csv`, again)).toBe(file('torch_gru', `torch_gru_${layer}_summary.csv`));

    // a second seed, then mean ± std across the two per layer (the layers' files live in their stack's folder)
    const other = join(dir, 'seed-7');
    await lwin('run', '--cells', 'rnn,torch_gru,torch_lstm', '--layers', '2', ...SMALL, '--seed', '7', '--out', other);
    const aggregated = await lwin('aggregate', out, other, '--out', join(dir, 'aggregate'));
    expect(aggregated.stdout).toMatch(/aggregated 2 runs, cells rnn_l0 \(2\), rnn_l1 \(2\), torch_gru_l0 \(2\), torch_gru_l1 \(2\), torch_lstm_l0 \(2\), torch_lstm_l1 \(2\)/);
  }, 300_000);
});
