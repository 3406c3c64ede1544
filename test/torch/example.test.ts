// examples/pytorch: the committed export of a 2-layer nn.LSTM classifier is read as it is, and lwin's float64 twin
// reproduces the held-out loss and accuracy the PyTorch script recorded (trained.json, computed in float32 by torch,
// hence the 1e-5 relative tolerance). The optimizer state covers every parameter under the file's own names.
// The README's `lwin diagnose` command runs as written: every layer's files, the top layer also under the plain
// names, and each layer's f̂(ℓ) equal to the twin's envelope of that layer (relative 1e-4, as the stage tests).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyFile } from '../../src/io/npy.ts';
import { readNamedTensors } from '../../src/io/safetensors.ts';
import { readTorchCheckpoint } from '../../src/io/torch-checkpoint.ts';
import { torchDiagonalTerms, torchForward, torchForwardLoss, WINDOW_RULE } from '../../src/model/f64/torch/index.ts';
import { INTERMEDIATE_NAMES } from '../../src/model/cells.ts';
import { referenceEnvelope } from '../../src/reference/diagnostics/windows.ts';
import { parseCsv, numericColumn } from '../../src/io/study-files.ts';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'pytorch');
const trained = JSON.parse(readFileSync(join(EXAMPLE, 'trained.json'), 'utf8')) as { heldout_loss: number; heldout_accuracy: number; T: number; H: number; layers: number };

describe('examples/pytorch', () => {
  const model = readTorchCheckpoint(readFileSync(join(EXAMPLE, 'model.safetensors')), { source: 'model.safetensors' });

  it('is read as a 2-layer torch_lstm under lstm. with the head found', () => {
    expect(model.config).toEqual({ cell: 'torch_lstm', nonlinearity: 'tanh', layers: trained.layers, inputSize: 1, hiddenSize: trained.H, bias: true, outputs: 2, readoutBias: true });
    expect([model.prefix, model.readout]).toEqual(['lstm.', { weight: 'head.weight', bias: 'head.bias' }]);
    expect(model.warnings).toEqual([]);
  });

  it('gives the held-out loss and accuracy PyTorch recorded (ce at the last step)', () => {
    const x = readNpyFile(join(EXAMPLE, 'x.npy'));
    const y = readNpyFile(join(EXAMPLE, 'y.npy'));
    expect(x.shape.slice(1)).toEqual([trained.T, 1]);
    const forward = torchForward(model.params, { x: x.data, batch: x.shape[0]!, steps: x.shape[1]! });
    const result = torchForwardLoss(model.params, forward, { loss: 'ce', lossSteps: 'last', y: y.data });
    expect(Math.abs(result.loss - trained.heldout_loss)).toBeLessThan(1e-5 * trained.heldout_loss);
    expect(result.accuracy).toBe(trained.heldout_accuracy);
  });

  it('ships Adam\'s state for every parameter, named <state>.<file name>', () => {
    const { tensors, metadata } = readNamedTensors(readFileSync(join(EXAMPLE, 'optimizer.safetensors')));
    const names = [...model.layout.tensors].map((t) => (t.name === 'out.weight' ? 'head.weight' : t.name === 'out.bias' ? 'head.bias' : `lstm.${t.name}`));
    expect([...tensors.keys()].sort()).toEqual(['exp_avg', 'exp_avg_sq'].flatMap((s) => names.map((n) => `${s}.${n}`)).sort());
    expect(metadata).toMatchObject({ optimizer: 'adam', state_keys: 'exp_avg,exp_avg_sq' });
  });
});

describe('examples/pytorch: the README\'s lwin diagnose command', () => {
  const out = mkdtempSync(join(tmpdir(), 'lwin-example-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('diagnoses both layers side by side, each f̂(ℓ) as the float64 twin\'s', async () => {
    const file = (name: string) => join(EXAMPLE, name);
    const folder = join(out, 'pytorch-lstm');
    const { stdout } = await promisify(execFile)('node', [
      'bin/lwin.js', 'diagnose', '--weights', file('model.safetensors'), '--x', file('x.npy'), '--y', file('y.npy'), '--loss', 'ce', '--loss-steps', 'last',
      '--optimizer-state', file('optimizer.safetensors'), '--lag-min', '1', '--lag-max', '31', '--num-lags', '12', '--out', folder,
    ], { timeout: 240_000 });
    expect(stdout).toMatch(/diagnosed torch_lstm \(H=16, 2 layers, each diagnosed\)/);
    const csv = (name: string) => readFileSync(join(folder, name), 'utf8');
    expect(csv('H_N_summary.csv').split('\n')[0]).toBe('N,H_N_torch_lstm_l0,H_N_torch_lstm_l1,contiguous_H_N_torch_lstm_l0,contiguous_H_N_torch_lstm_l1');
    expect(csv('torch_lstm/torch_lstm_summary.csv'), 'the top layer under the plain names').toBe(csv('torch_lstm/torch_lstm_l1_summary.csv'));
    const record = JSON.parse(csv('torch_lstm/torch_lstm_l1_cell.json'));
    expect(record.diagnostics.etaBar, 'ρ from the Adam state').toBeGreaterThan(0);

    const model = readTorchCheckpoint(readFileSync(file('model.safetensors')));
    const x = readNpyFile(file('x.npy'));
    const [batch, steps] = x.shape as [number, number];
    const forward = torchForward(model.params, { x: x.data, batch, steps });
    const hidden = model.config.hiddenSize;
    torchDiagonalTerms(model.params, forward).forEach((terms, k) => {
      const summary = parseCsv(csv(`torch_lstm/torch_lstm_l${k}_summary.csv`), 'summary');
      const lags = numericColumn(summary, 'ell');
      const rule = WINDOW_RULE[model.config.cell];
      const planes = new Float64Array(3 * batch * steps * hidden);
      INTERMEDIATE_NAMES[rule].forEach((name, n) => planes.set(terms[name]!, n * batch * steps * hidden));
      const want = referenceEnvelope({ cell: rule, batch, steps, hidden, intermediates: planes }, lags, true);
      numericColumn(summary, 'mu_l1_mean').forEach((got, i) => {
        expect(Math.abs(got - want[i]!.muL1Mean), `layer ${k}, ℓ=${lags[i]}: ${got} vs ${want[i]!.muL1Mean}`).toBeLessThanOrEqual(1e-4 * want[i]!.muL1Mean);
      });
    });
  }, 300_000);
});
