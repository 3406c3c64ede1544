// PyTorch's own nn.RNN (tanh, relu), nn.GRU and nn.LSTM at 1 and 2 layers (test/fixtures/torch/make.py): each
// user-style state_dict is read as it is (prefix and readout found), and the float64 twin reproduces the module's
// hidden states of every layer, h_n, c_n, outputs, the four losses and every parameter's gradient.
//
// Tolerance: make.py runs the modules in float64 on exactly the F32 weights and inputs stored, then rounds the
// results to F32, so the stored value is within half an F32 ulp, 2^-24·|value|, of the float64 result (normal
// numbers). The twin's own float64 rounding (different summation order) adds ~1e-16 of the tensor's scale,
// covered by 1e-12·max|value|. A wrong formula misses by far more than either.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNamedTensors } from '../../src/io/safetensors.ts';
import { readTorchCheckpoint } from '../../src/io/torch-checkpoint.ts';
import { torchForward, torchGradients, type LossSteps, type TorchLoss } from '../../src/model/f64/torch/index.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
interface Case { name: string; cell: string; nonlinearity: 'tanh' | 'relu'; layers: number; bias: boolean; prefix: string; readout: string; B: number; T: number; D: number; H: number; K: number }
const MANIFEST = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { losses: string[]; cases: Case[] };
const F32_HALF_ULP = 2 ** -24;

/** Worst |got - want| / tolerance per case and quantity, printed once for the record. */
const worst = new Map<string, { ratio: number; abs: number }>();

function expectF32Close(label: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  const [name, quantity] = label.split(' ');
  const key = `${name} ${quantity!.startsWith('grad.') ? 'gradients' : quantity!.startsWith('loss.') ? 'losses' : 'forward'}`;
  for (let i = 0; i < want.length; i++) {
    const tolerance = F32_HALF_ULP * Math.abs(want[i]!) + 1e-12 * scale;
    const err = Math.abs(got[i]! - want[i]!);
    const seen = worst.get(key) ?? { ratio: 0, abs: 0 };
    worst.set(key, { ratio: Math.max(seen.ratio, err / tolerance), abs: Math.max(seen.abs, err) });
    if (err > tolerance) expect.fail(`${label} element ${i}: expected ${want[i]}, got ${got[i]}, |error| ${err} > tolerance ${tolerance}`);
  }
}

afterAll(() => {
  const rows = [...worst].map(([k, v]) => `${k.padEnd(26)} max|err| ${v.abs.toExponential(2)}  max err/tol ${v.ratio.toFixed(3)}`);
  console.info(`torch fixtures, worst errors (tolerance 2^-24·|v| + 1e-12·max|v|):\n${rows.join('\n')}`);
});

describe.each(MANIFEST.cases)('torch fixture $name', (c) => {
  const modelFile = join(FIXTURES, `${c.name}.model.safetensors`);
  const { tensors } = readNamedTensors(readFileSync(join(FIXTURES, `${c.name}.expected.safetensors`)));
  const get = (n: string) => tensors.get(n)!.data;
  const model = readTorchCheckpoint(readFileSync(modelFile), { source: modelFile, nonlinearity: c.cell === 'rnn' ? c.nonlinearity : undefined });
  const batch = { x: get('x'), batch: c.B, steps: c.T };

  it('is read as the module it is: cell, layers, sizes, bias, prefix and readout found', () => {
    expect(model.config).toEqual({ cell: c.cell, nonlinearity: c.nonlinearity, layers: c.layers, inputSize: c.D, hiddenSize: c.H, bias: c.bias, outputs: c.K, readoutBias: true });
    expect(model.prefix).toBe(c.prefix);
    expect(model.readout).toEqual({ weight: c.readout, bias: c.readout.replace(/weight$/, 'bias') });
    expect(model.warnings).toEqual([]);
  });

  it('gives every layer\'s h_t, h_n, c_n and ŷ', () => {
    const forward = torchForward(model.params, batch);
    for (let k = 0; k < c.layers; k++) expectF32Close(`${c.name} h.l${k}`, forward.hidden[k]!, get(`h.l${k}`));
    expectF32Close(`${c.name} h_n`, forward.hN, get('h_n'));
    if (c.cell === 'torch_lstm') expectF32Close(`${c.name} c_n`, forward.cN!, get('c_n'));
    else expect(forward.cN).toBeNull();
    expectF32Close(`${c.name} yhat`, forward.yHat, get('yhat'));
  });

  it.each(MANIFEST.losses)('gives the %s loss and the gradient of every parameter', (lossName) => {
    const [loss, lossSteps] = lossName.split('_') as [TorchLoss, LossSteps];
    const y = loss === 'mse' ? get('y_mse') : lossSteps === 'last' ? get('y_ce_last') : get('y_ce');
    const { loss: result, grad } = torchGradients(model.params, batch, { loss, lossSteps, y });
    expectF32Close(`${c.name} loss.${lossName}`, [result.loss], get(`loss.${lossName}`));
    for (const spec of model.layout.tensors) {
      const fileName = spec.name === 'out.weight' ? model.readout.weight : spec.name === 'out.bias' ? model.readout.bias! : model.prefix + spec.name;
      expectF32Close(`${c.name} grad.${lossName}.${fileName}`, grad.data.subarray(spec.offset, spec.offset + spec.size), get(`grad.${lossName}.${fileName}`));
    }
  });
});
