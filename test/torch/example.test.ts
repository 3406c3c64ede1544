// examples/pytorch: the committed export of a 2-layer nn.LSTM classifier is read as it is, and lwin's float64 twin
// reproduces the held-out loss and accuracy the PyTorch script recorded (trained.json, computed in float32 by torch,
// hence the 1e-5 relative tolerance). The optimizer state covers every parameter under the file's own names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpyFile } from '../../src/io/npy.ts';
import { readNamedTensors } from '../../src/io/safetensors.ts';
import { readTorchCheckpoint } from '../../src/io/torch-checkpoint.ts';
import { torchForward, torchForwardLoss } from '../../src/model/f64/torch/index.ts';

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
