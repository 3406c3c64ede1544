// The optimizer state as a safetensors file (src/train/optimizer-file.ts): lwin's own files and PyTorch exports
// (`<state>.<param>` names, no state_keys) read back, and the wrong file refused with the names it should have.
import { describe, expect, it } from 'vitest';
import { buildLayout, initParams } from '../../src/model/index.ts';
import { writeNamedTensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { readOptimizerStateFile, writeOptimizerStateFile } from '../../src/train/optimizer-file.ts';

const LAYOUT = buildLayout({ cell: 'gru', inputSize: 3, hiddenSize: 4, layernorm: true });
const TRAINABLE = LAYOUT.tensors.filter((t) => t.trainable);
const ramp = (n: number, from: number) => Float32Array.from({ length: n }, (_, i) => from + i / 8);

/** Adam's two states over the trainable prefix, padding zero. */
function adamState() {
  const tensors: Record<string, Float32Array> = { exp_avg: new Float32Array(LAYOUT.trainableSize), exp_avg_sq: new Float32Array(LAYOUT.trainableSize) };
  for (const t of TRAINABLE) {
    tensors.exp_avg!.set(ramp(t.size, t.offset), t.offset);
    tensors.exp_avg_sq!.set(ramp(t.size, 2 * t.offset), t.offset);
  }
  return { step: 7, tensors };
}

describe('reading an optimizer state', () => {
  it("reads lwin's own file back exactly", () => {
    const state = adamState();
    const back = readOptimizerStateFile(LAYOUT, writeOptimizerStateFile(LAYOUT, state), 'gru_optimizer.safetensors');
    expect(back.state).toEqual(state);
  });

  it('reads a PyTorch export without state_keys, taking the states from the names <state>.<param>', () => {
    const state = adamState();
    const tensors = Object.entries(state.tensors).flatMap(([key, flat]) => TRAINABLE.map((t) => ({ name: `${key}.${t.name}`, shape: t.shape, data: flat.subarray(t.offset, t.offset + t.size) })));
    const back = readOptimizerStateFile(LAYOUT, writeNamedTensors(tensors, { step: '7' }), 'torch_adam.safetensors');
    expect(Object.keys(back.state.tensors).sort()).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(back.state).toEqual(state);
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    [
      'the model parameters given in place of the optimizer state',
      () => writeSafetensors(LAYOUT, initParams(LAYOUT, { seed: 1 })),
      /^w.safetensors holds model parameters \(Wz.weight, Wz.bias, Uz.weight, …\), not an optimizer state: expected one tensor per state and trainable parameter, e.g. exp_avg.Wz.weight and exp_avg_sq.Wz.weight \(Adam\/AdamW\).*\(the parameters go to --weights\)$/,
    ],
    ['a file of unrelated tensors', () => writeNamedTensors([{ name: 'encoder.weight', shape: [2], data: [1, 2] }], {}), /^w.safetensors has no tensors named <state>.<parameter> \(it has encoder.weight\): expected .*e.g. exp_avg.Wz.weight/],
    [
      'a state missing one parameter',
      () => writeNamedTensors(TRAINABLE.filter((t) => t.name !== 'Uh.weight').map((t) => ({ name: `exp_avg.${t.name}`, shape: t.shape, data: new Float32Array(t.size) })), {}),
      /^w.safetensors has no exp_avg.Uh.weight; expected one tensor per state \(exp_avg\) and trainable parameter of the gru/,
    ],
  ])('refuses %s, naming the tensors it should hold', (_, make, message) => {
    expect(() => readOptimizerStateFile(LAYOUT, make(), 'w.safetensors')).toThrow(message);
  });
});
