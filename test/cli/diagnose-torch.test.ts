// `lwin diagnose` on a PyTorch checkpoint as it is (SPEC §13): the state_dict of a module with an nn.GRU under a
// prefix and a readout of another name, with a buffer lwin ignores, diagnosed through bin/lwin.js; the same weights
// in lwin's own file give the same numbers. Refusals name what the file holds and what is not run yet.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { torchLayout, torchParams } from '../../src/model/f64/torch/config.ts';
import { writeNamedTensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { readTorchCheckpoint } from '../../src/io/torch-checkpoint.ts';
import { torchCheckpointModel } from '../../src/io/torch-model.ts';
import { Rng } from '../../src/util/random.ts';
import { writeNpy } from '../../src/io/npy.ts';

const dir = mkdtempSync(join(tmpdir(), 'lwin-torch-diagnose-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TORCH_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');

async function lwin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/lwin.js', ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const SMALL = ['--steps', '24', '--task-lags', '2,4', '--task-coeffs', '0.5,0.4', '--diag-sequences', '8', '--lag-min', '1', '--lag-max', '12', '--num-lags', '6', '--psi-subsample', '100', '--transport-samples', '2'];

/** A 1-layer nn.GRU (D=3, H=6) with a scalar head, weights ~ U(-0.5, 0.5), as `model.state_dict()` under `encoder.gru.` and `head.`. */
function gruCheckpoint(): Uint8Array {
  const layout = torchLayout({ cell: 'torch_gru', nonlinearity: 'tanh', layers: 1, inputSize: 3, hiddenSize: 6, bias: true, outputs: 1, readoutBias: true });
  const params = torchParams(layout);
  const rng = new Rng(4);
  rng.fillUniform(params.data, -0.5, 0.5);
  // As safetensors.torch.save_file writes it: no lwin metadata; beside the model a BatchNorm buffer (1-D, so not a
  // readout candidate).
  const name = (n: string) => (n.startsWith('out.') ? n.replace('out.', 'head.') : `encoder.gru.${n}`);
  const tensors = layout.tensors.map((t) => ({ name: name(t.name), shape: t.shape, data: params.data.subarray(t.offset, t.offset + t.size) }));
  return writeNamedTensors([...tensors, { name: 'bn.running_mean', shape: [6], data: new Float64Array(6) }], {});
}

const column = (csv: string, name: string) => csv.trim().split('\n').map((l) => l.split(',')).map((r, _i, rows) => r[rows[0]!.indexOf(name)]);

/** A 1-layer nn.LSTM (D=2, H=6) with a 2-class head under `lstm.` and `head.`, and held-out data: X [N,T,2], y [N] classes. */
function classifier(N: number, T: number): { model: Uint8Array; x: Uint8Array; y: Uint8Array } {
  const layout = torchLayout({ cell: 'torch_lstm', nonlinearity: 'tanh', layers: 1, inputSize: 2, hiddenSize: 6, bias: true, outputs: 2, readoutBias: true });
  const params = torchParams(layout);
  const rng = new Rng(7);
  rng.fillUniform(params.data, -0.6, 0.6);
  const name = (n: string) => (n.startsWith('out.') ? n.replace('out.', 'head.') : `lstm.${n}`);
  const model = writeNamedTensors(layout.tensors.map((t) => ({ name: name(t.name), shape: t.shape, data: params.data.subarray(t.offset, t.offset + t.size) })), {});
  const x = Float32Array.from({ length: N * T * 2 }, () => rng.normal());
  const y = Float32Array.from({ length: N }, () => (rng.uniform() < 0.5 ? 0 : 1));
  return { model, x: writeNpy([N, T, 2], x), y: writeNpy([N], y) };
}

describe('lwin diagnose on a PyTorch classifier (SPEC §13: K-class head, ce at the last step)', () => {
  it('takes y [N] class indices, and ψ has one sample per sequence and lag', async () => {
    const [N, T] = [12, 24];
    const files = classifier(N, T);
    const paths = Object.fromEntries(Object.entries(files).map(([k, bytes]) => [k, join(dir, `classifier-${k}.${k === 'model' ? 'safetensors' : 'npy'}`)]));
    for (const [k, bytes] of Object.entries(files)) writeFileSync(paths[k]!, bytes);
    const flags = ['--x', paths.x!, '--y', paths.y!, '--lag-min', '1', '--lag-max', '12', '--num-lags', '6', '--psi-subsample', '100', '--transport-samples', '2'];
    const result = await lwin('diagnose', '--weights', paths.model!, ...flags, '--loss', 'ce', '--loss-steps', 'last', '--out', join(dir, 'classifier'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/diagnosed torch_lstm \(H=6\)/);
    const summary = readFileSync(join(dir, 'classifier', 'torch_lstm', 'torch_lstm_summary.csv'), 'utf8');
    expect(column(summary, 'n_samples').slice(1)).toEqual(Array(6).fill(String(N)));

    const bad = join(dir, 'classifier-bad.npy');
    writeFileSync(bad, writeNpy([N], Float32Array.from({ length: N }, (_, i) => (i === 3 ? 2 : 0))));
    const refused = await lwin('diagnose', '--weights', paths.model!, ...flags.slice(0, 2), '--y', bad, ...flags.slice(4), '--loss', 'ce', '--loss-steps', 'last');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Y file .*classifier-bad.npy element 3 is 2; the ce loss takes class indices 0…1 \(the readout has K=2 rows\)/);
    // PyTorch's Adam state under the checkpoint's names gives ρ (η_p = lr/(√v̂ + ε), PyTorch's `adam` as AdamW)
    const layout = torchLayout({ cell: 'torch_lstm', nonlinearity: 'tanh', layers: 1, inputSize: 2, hiddenSize: 6, bias: true, outputs: 2, readoutBias: true });
    const rng = new Rng(8);
    const name = (n: string) => (n.startsWith('out.') ? n.replace('out.', 'head.') : `lstm.${n}`);
    const state = layout.tensors.flatMap((t) => ['exp_avg', 'exp_avg_sq'].map((key) => ({
      name: `${key}.${name(t.name)}`, shape: t.shape, data: Float64Array.from({ length: t.size }, () => (key === 'exp_avg' ? rng.normal() * 1e-3 : 1e-6 * (1 + rng.uniform()))),
    })));
    const optimizer = join(dir, 'classifier-adam.safetensors');
    writeFileSync(optimizer, writeNamedTensors(state, { optimizer: 'adam', step: '500', state_keys: 'exp_avg,exp_avg_sq' }));
    const withRho = await lwin('diagnose', '--weights', paths.model!, ...flags, '--loss', 'ce', '--loss-steps', 'last', '--optimizer-state', optimizer, '--out', join(dir, 'classifier-rho'));
    expect(withRho.code, withRho.stderr).toBe(0);
    const record = JSON.parse(readFileSync(join(dir, 'classifier-rho', 'torch_lstm', 'torch_lstm_cell.json'), 'utf8'));
    expect(record.diagnostics.etaBar, 'η̄ from the Adam state').toBeGreaterThan(0);

    const perStep = await lwin('diagnose', '--weights', paths.model!, ...flags, '--loss', 'ce');
    expect(perStep.code).toBe(1);
    expect(perStep.stderr).toMatch(/Y file .*classifier-y.npy has shape \[12\]; the ce loss at all steps of this model \(K=2\) takes class indices in \[0, 2\) of shape \[12, 24\] for X \[12, 24, 2\]/);
  }, 240_000);
});

describe('lwin diagnose on a PyTorch checkpoint as it is', () => {
  it('finds the prefix and the readout, ignores the buffer with a warning, and equals the same weights in lwin\'s own file', async () => {
    const bytes = gruCheckpoint();
    const torchFile = join(dir, 'model.safetensors');
    writeFileSync(torchFile, bytes);
    const result = await lwin('diagnose', '--weights', torchFile, ...SMALL, '--out', join(dir, 'torch'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/diagnosed torch_gru \(H=6\)/);
    expect(result.stderr).toMatch(/ignoring 1 tensor outside the torch_gru, 1 layer, D=3, H=6, readout K=1 model: bn.running_mean/);

    const model = torchCheckpointModel(readTorchCheckpoint(bytes));
    const lwinFile = join(dir, 'lwin.safetensors');
    writeFileSync(lwinFile, writeSafetensors(model.layout, Float32Array.from(model.params)));
    const own = await lwin('diagnose', '--weights', lwinFile, ...SMALL, '--out', join(dir, 'own'));
    expect(own.code, own.stderr).toBe(0);
    const summary = (folder: string) => readFileSync(join(dir, folder, 'torch_gru', 'torch_gru_summary.csv'), 'utf8');
    expect(column(summary('torch'), 'mu_l1_mean')).toEqual(column(summary('own'), 'mu_l1_mean'));
    expect(column(summary('torch'), 'mu_l1_mean').slice(1).every((v) => Number(v) > 0)).toBe(true);
  }, 240_000);

  it('reads a bias=False nn.RNN(relu) with --nonlinearity relu: biases held at 0, said so', async () => {
    const layout = torchLayout({ cell: 'rnn', nonlinearity: 'relu', layers: 1, inputSize: 3, hiddenSize: 5, bias: false, outputs: 1, readoutBias: true });
    const params = torchParams(layout);
    new Rng(9).fillUniform(params.data, -0.5, 0.5);
    const name = (n: string) => (n.startsWith('out.') ? n.replace('out.', 'fc.') : `rnn.${n}`);
    const path = join(dir, 'nobias.safetensors');
    writeFileSync(path, writeNamedTensors(layout.tensors.map((t) => ({ name: name(t.name), shape: t.shape, data: params.data.subarray(t.offset, t.offset + t.size) })), {}));
    const result = await lwin('diagnose', '--weights', path, ...SMALL, '--nonlinearity', 'relu', '--out', join(dir, 'nobias'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/diagnosed rnn_relu \(H=5\)/);
    expect(result.stderr).toMatch(/nobias.safetensors: a bias=False layer; its biases are held at 0 \(the same forward\)/);
  }, 120_000);

  it.each<[string, () => string, string[], RegExp]>([
    ['a K=3 readout without the data it was trained on', () => join(TORCH_FIXTURES, 'gru_l1.model.safetensors'), ['--loss', 'ce'],
      /^lwin: .*gru_l1.model.safetensors has a readout of K=3 classes \(loss ce at all steps\), whose targets lwin's task cannot make: give the data the model was trained on with --x X.npy --y Y.npy/m],
    ['a --prefix that names no layer', () => join(TORCH_FIXTURES, 'gru_l1.model.safetensors'), ['--prefix', 'encoder'],
      /^lwin: .*gru_l1.model.safetensors has no encoder.weight_ih_l0, so --prefix encoder names no recurrent layer; its recurrent layers are under "rnn\."/m],
    ['a torch.save pickle', () => {
      const path = join(dir, 'model.pt');
      writeFileSync(path, Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]));
      return path;
    }, [], /^lwin: .*model.pt is a PyTorch pickle \(torch.save\), which lwin does not read .* safetensors.torch.save_file\(model.state_dict\(\), "model.safetensors"\)$/m],
  ])('refuses %s, saying what the file holds', async (_, path, flags, message) => {
    const result = await lwin('diagnose', '--weights', path(), ...SMALL, ...flags);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  }, 60_000);
});

describe('lwin train with a K-class head (SPEC §13)', () => {
  const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'pytorch');

  it('trains torch_gru on the example\'s sequences with ce at the last step; the curve holds accuracies', async () => {
    const out = join(dir, 'train-ce');
    const args = ['train', '--cell', 'torch_gru', '--x', join(EXAMPLE, 'x.npy'), '--y', join(EXAMPLE, 'y.npy'), '--hidden', '8', '--epochs', '2', '--batch', '32'];
    const result = await lwin(...args, '--outputs', '2', '--loss', 'ce', '--loss-steps', 'last', '--out', out);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/trained torch_gru for 2 epochs .*; final val accuracy 0\.\d{4}/);
    const rows = readFileSync(join(out, 'torch_gru_learning_curve.csv'), 'utf8').trim().split('\n').slice(1).map((r) => r.split(',').map(Number));
    expect(rows).toHaveLength(2);
    for (const [, trainLoss, trainAcc, valLoss, valAcc] of rows) {
      expect([trainLoss, valLoss].every((v) => v! > 0 && v! < 2)).toBe(true);
      expect([trainAcc, valAcc].every((v) => v! >= 0 && v! <= 1)).toBe(true);
    }

    const task = await lwin(...args.slice(0, 3), '--outputs', '2', '--loss', 'ce');
    expect(task.code).toBe(1);
    expect(task.stderr).toMatch(/a readout of K=2 with the ce loss at all steps needs your data: the multi-lag task has one regression target per step/);
  }, 240_000);
});
