// Parameter layouts: SPEC §2 names and shapes, alignment, the trainable prefix.
import { describe, expect, it } from 'vitest';
import { CELL_KINDS, PARAM_ALIGNMENT, TensorViews, buildLayout, layerNormChoices, type CellKind } from '../../src/model/index.ts';

const D = 3;
const H = 5;

/** SPEC §2, written out by hand for D = 3, H = 5 (LayerNorm keys listed separately). */
const EXPECTED: Record<CellKind, { tensors: [string, number[]][]; ln: string }> = {
  const: {
    tensors: [['Wx.weight', [H, D]], ['Wx.bias', [H]], ['Wh.weight', [H, H]], ['out.weight', [1, H]], ['out.bias', [1]], ['s_const', []]],
    ln: 'ln',
  },
  shared: {
    tensors: [
      ['Wx.weight', [H, D]], ['Wx.bias', [H]], ['Wh.weight', [H, H]],
      ['Ws.weight', [1, D]], ['Ws.bias', [1]], ['Us.weight', [1, H]],
      ['out.weight', [1, H]], ['out.bias', [1]],
    ],
    ln: 'ln_h',
  },
  diag: {
    tensors: [
      ['Wx.weight', [H, D]], ['Wx.bias', [H]], ['Wh.weight', [H, H]],
      ['Ws.weight', [H, D]], ['Ws.bias', [H]], ['Us.weight', [H, H]],
      ['out.weight', [1, H]], ['out.bias', [1]],
    ],
    ln: 'ln_h',
  },
  gru: {
    tensors: [
      ['Wz.weight', [H, D]], ['Wz.bias', [H]], ['Uz.weight', [H, H]],
      ['Wr.weight', [H, D]], ['Wr.bias', [H]], ['Ur.weight', [H, H]],
      ['Wh.weight', [H, D]], ['Wh.bias', [H]], ['Uh.weight', [H, H]],
      ['out.weight', [1, H]], ['out.bias', [1]],
    ],
    ln: 'ln_h',
  },
  lstm: {
    tensors: [
      ['Wi.weight', [H, D]], ['Wi.bias', [H]], ['Ui.weight', [H, H]],
      ['Wf.weight', [H, D]], ['Wf.bias', [H]], ['Uf.weight', [H, H]],
      ['Wo.weight', [H, D]], ['Wo.bias', [H]], ['Uo.weight', [H, H]],
      ['Wg.weight', [H, D]], ['Wg.bias', [H]], ['Ug.weight', [H, H]],
      ['out.weight', [1, H]], ['out.bias', [1]],
    ],
    ln: 'ln_cand',
  },
  linear: {
    tensors: [['Wx.weight', [H, D]], ['Wx.bias', [H]], ['Wh.weight', [H, H]], ['out.weight', [1, H]], ['out.bias', [1]]],
    ln: '',
  },
  // SPEC §13: PyTorch's names and stacked row blocks (G = 1, 3, 4), in named_parameters() order
  rnn: { tensors: [['weight_ih_l0', [H, D]], ['weight_hh_l0', [H, H]], ['bias_ih_l0', [H]], ['bias_hh_l0', [H]], ['out.weight', [1, H]], ['out.bias', [1]]], ln: '' },
  rnn_relu: { tensors: [['weight_ih_l0', [H, D]], ['weight_hh_l0', [H, H]], ['bias_ih_l0', [H]], ['bias_hh_l0', [H]], ['out.weight', [1, H]], ['out.bias', [1]]], ln: '' },
  torch_gru: {
    tensors: [['weight_ih_l0', [3 * H, D]], ['weight_hh_l0', [3 * H, H]], ['bias_ih_l0', [3 * H]], ['bias_hh_l0', [3 * H]], ['out.weight', [1, H]], ['out.bias', [1]]],
    ln: '',
  },
  torch_lstm: {
    tensors: [['weight_ih_l0', [4 * H, D]], ['weight_hh_l0', [4 * H, H]], ['bias_ih_l0', [4 * H]], ['bias_hh_l0', [4 * H]], ['out.weight', [1, H]], ['out.bias', [1]]],
    ln: '',
  },
};

const CASES = CELL_KINDS.flatMap((cell) => layerNormChoices(cell).map((layernorm) => ({ name: `${cell} ln=${layernorm ? 'on' : 'off'}`, cell, layernorm })));

describe.each(CASES)('$name', ({ cell, layernorm }) => {
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });

  it('has exactly the SPEC §2 state_dict keys and shapes', () => {
    const expected = new Map(EXPECTED[cell].tensors);
    if (layernorm) {
      expected.set(`${EXPECTED[cell].ln}.weight`, [H]);
      expected.set(`${EXPECTED[cell].ln}.bias`, [H]);
    }
    const got = new Map(layout.tensors.map((t) => [t.name, [...t.shape]]));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
  });

  it('only s_const is non-trainable', () => {
    const frozen = layout.tensors.filter((t) => !t.trainable).map((t) => t.name);
    expect(frozen).toEqual(cell === 'const' ? ['s_const'] : []);
  });

  it('offsets are 4-aligned, tensors do not overlap, sizes match shapes', () => {
    let end = 0;
    for (const t of layout.tensors) {
      expect(t.offset % PARAM_ALIGNMENT, `${t.name} offset ${t.offset}`).toBe(0);
      expect(t.offset, `${t.name} starts before the previous tensor ends`).toBeGreaterThanOrEqual(end);
      expect(t.size, t.name).toBe(t.shape.reduce((a, b) => a * b, 1));
      end = t.offset + t.size;
    }
    expect(layout.totalSize % PARAM_ALIGNMENT).toBe(0);
    expect(layout.totalSize).toBeGreaterThanOrEqual(end);
    expect(layout.totalSize - end).toBeLessThan(PARAM_ALIGNMENT);
  });

  it('trainable tensors form the prefix [0, trainableSize)', () => {
    for (const t of layout.tensors) {
      if (t.trainable) expect(t.offset + t.size, t.name).toBeLessThanOrEqual(layout.trainableSize);
      else expect(t.offset, t.name).toBeGreaterThanOrEqual(layout.trainableSize);
    }
    expect(layout.trainableSize % PARAM_ALIGNMENT).toBe(0);
    expect(layout.trainableCount).toBe(layout.tensors.filter((t) => t.trainable).reduce((s, t) => s + t.size, 0));
  });

  it('TensorViews address each tensor and refuse unknown names and wrong lengths', () => {
    const data = new Float64Array(layout.totalSize).map((_, i) => i);
    const views = new TensorViews(layout, data);
    for (const t of layout.tensors) expect(views.get(t.name)[0], t.name).toBe(t.offset);
    expect(() => views.get('nope.weight')).toThrow(/no tensor "nope.weight"/);
    expect(() => new TensorViews(layout, new Float64Array(layout.totalSize + 1))).toThrow(/needs/);
  });
});

describe('configuration errors', () => {
  it.each([
    ['LayerNorm on a PyTorch layer', { cell: 'torch_gru' as CellKind, inputSize: 3, hiddenSize: 4, layernorm: true }, /PyTorch's torch_gru layer has no LayerNorm \(SPEC §13\); set layernorm to false/],
    ['unknown cell', { cell: 'elman' as CellKind, inputSize: 3, hiddenSize: 5, layernorm: false }, /unknown cell "elman"/],
    ['zero hidden size', { cell: 'gru' as CellKind, inputSize: 3, hiddenSize: 0, layernorm: false }, /hiddenSize must be a positive integer/],
    ['fractional input size', { cell: 'gru' as CellKind, inputSize: 2.5, hiddenSize: 4, layernorm: false }, /inputSize must be a positive integer/],
    ['LayerNorm on the linear cell', { cell: 'linear' as CellKind, inputSize: 3, hiddenSize: 4, layernorm: true }, /the linear cell has no LayerNorm .* set layernorm to false/],
  ])('%s', (_, config, message) => {
    expect(() => buildLayout(config)).toThrow(message);
  });
});
