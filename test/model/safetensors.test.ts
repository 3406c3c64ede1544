// safetensors: round trips for every cell, a hand-written PyTorch-style file (mixed F16/BF16/F32/F64), and a
// refusal with a readable message for each malformed input.
import { describe, expect, it } from 'vitest';
import { CELL_KINDS, TensorViews, buildLayout, initParams, layerNormChoices, type ModelConfig } from '../../src/model/index.ts';
import {
  LWIN_VERSION,
  SafetensorsError,
  parseSafetensorsHeader,
  readSafetensors,
  writeSafetensors,
} from '../../src/io/safetensors.ts';

interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Little-endian payload, written by hand in this file. */
  data: Uint8Array;
  /** Override data_offsets in the header (for refusal tests). */
  offsets?: [number, number];
}

/** Builds a safetensors file without lwin's writer: u64 LE header length, JSON, data. */
function buildFile(tensors: RawTensor[], metadata?: Record<string, string>, headerOverride?: string): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let end = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: t.offsets ?? [end, end + t.data.length] };
    end += t.data.length;
  }
  const json = new TextEncoder().encode(headerOverride ?? JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + end);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    bytes.set(t.data, at);
    at += t.data.length;
  }
  return bytes;
}

function le(kind: 'u16' | 'f32' | 'f64', values: number[]): Uint8Array {
  const width = kind === 'u16' ? 2 : kind === 'f32' ? 4 : 8;
  const view = new DataView(new ArrayBuffer(values.length * width));
  values.forEach((v, i) => {
    if (kind === 'u16') view.setUint16(i * width, v, true);
    else if (kind === 'f32') view.setFloat32(i * width, v, true);
    else view.setFloat64(i * width, v, true);
  });
  return new Uint8Array(view.buffer);
}

/** The tensors of a model as F32 raw tensors (for refusal tests that edit one entry). */
function rawTensors(config: ModelConfig, seed = 3): RawTensor[] {
  const layout = buildLayout(config);
  const views = new TensorViews(layout, initParams(layout, { seed }));
  return layout.tensors.map((t) => ({ name: t.name, dtype: 'F32', shape: [...t.shape], data: le('f32', [...views.get(t.name)]) }));
}

function refusal(bytes: Uint8Array, options: Parameters<typeof readSafetensors>[1]): string {
  try {
    readSafetensors(bytes, options);
  } catch (err) {
    expect(err).toBeInstanceOf(SafetensorsError);
    return (err as Error).message;
  }
  throw new Error('expected readSafetensors to refuse the file, but it was accepted');
}

const ROUND_TRIPS = CELL_KINDS.flatMap((cell) =>
  layerNormChoices(cell).flatMap((layernorm) => (['F32', 'F64'] as const).map((dtype) => ({ name: `${cell} ln=${layernorm ? 'on' : 'off'} ${dtype}`, cell, layernorm, dtype }))),
);

describe('round trip of a K-output readout (SPEC §13)', () => {
  it.each(['torch_lstm', 'gru'] as const)('%s with K=3: metadata outputs "3", out.weight [3,H] read back without hints', (cell) => {
    const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 5, layernorm: false, outputs: 3 });
    const params = initParams(layout, { seed: 22 });
    const back = readSafetensors(writeSafetensors(layout, params, { dtype: 'F64' }));
    expect(back.metadata.outputs).toBe('3');
    expect(back.layout.config).toEqual(layout.config);
    expect([...back.params]).toEqual([...params]);
    // the scalar readout writes no `outputs`, so files of the paper's cells are as before
    expect(readSafetensors(writeSafetensors(buildLayout({ cell, inputSize: 3, hiddenSize: 5, layernorm: false }), initParams(buildLayout({ cell, inputSize: 3, hiddenSize: 5, layernorm: false }), { seed: 1 }))).metadata.outputs).toBeUndefined();
  });
});

describe.each(ROUND_TRIPS)('round trip $name', ({ cell, layernorm, dtype }) => {
  const layout = buildLayout({ cell, inputSize: 3, hiddenSize: 5, layernorm });
  const params = initParams(layout, { seed: 21, constS: 0.05 });
  const bytes = writeSafetensors(layout, params, { dtype, constS: 0.05 });

  it('reads back the same values (F32: rounded to float32) with metadata and no warnings', () => {
    const back = readSafetensors(bytes);
    expect(back.layout.tensors).toEqual(layout.tensors);
    const expected = dtype === 'F32' ? params.map(Math.fround) : params;
    const differing = [...back.params.keys()].filter((i) => back.params[i] !== expected[i]);
    expect(differing, 'layout indices that did not round-trip exactly').toEqual([]);
    expect(back.metadata).toMatchObject({ cell, D: '3', H: '5', layernorm: String(layernorm), const_s: '0.05', lwin_version: LWIN_VERSION });
    expect(back.warnings).toEqual([]);
    expect(new Set(Object.values(back.dtypes))).toEqual(new Set([dtype]));
  });

  it('lays the file out as the format requires: 8-aligned header, tensors in layout order, contiguous data', () => {
    const header = parseSafetensorsHeader(bytes);
    expect((header.dataStart - 8) % 8).toBe(0);
    expect([...header.tensors.keys()]).toEqual(layout.tensors.map((t) => t.name));
    let end = 0;
    for (const [name, entry] of header.tensors) {
      expect(entry.dataOffsets[0], name).toBe(end);
      end = entry.dataOffsets[1];
    }
    expect(header.dataStart + end).toBe(bytes.length);
  });
});

describe('a hand-written PyTorch-style file', () => {
  // const, D = 2, H = 2, layernorm on; dtypes mixed as a converted PyTorch export might have them.
  const layout = buildLayout({ cell: 'const', inputSize: 2, hiddenSize: 2, layernorm: true });
  const tensors: RawTensor[] = [
    { name: 'ln.bias', dtype: 'F64', shape: [2], data: le('f64', [0.1, -3]) },
    { name: 'Wx.weight', dtype: 'F16', shape: [2, 2], data: le('u16', [0x3c00, 0xc000, 0x3800, 0x3555]) },
    { name: 'Wx.bias', dtype: 'BF16', shape: [2], data: le('u16', [0x3f80, 0xc020]) },
    { name: 'Wh.weight', dtype: 'F16', shape: [2, 2], data: le('u16', [0x0001, 0x7bff, 0x8000, 0xbc00]) },
    { name: 'ln.weight', dtype: 'F32', shape: [2], data: le('f32', [1.5, -0.25]) },
    { name: 'out.weight', dtype: 'BF16', shape: [1, 2], data: le('u16', [0x3e80, 0x4049]) },
    { name: 'out.bias', dtype: 'F32', shape: [1], data: le('f32', [0.75]) },
    { name: 's_const', dtype: 'F32', shape: [], data: le('f32', [0.05]) },
  ];
  const expected: Record<string, number[]> = {
    'Wx.weight': [1, -2, 0.5, 0.333251953125], // F16 0x3555 = (1 + 341/1024) · 2⁻²
    'Wx.bias': [1, -2.5],
    'Wh.weight': [2 ** -24, 65504, -0, -1], // smallest subnormal, largest finite, negative zero
    'ln.weight': [1.5, -0.25],
    'ln.bias': [0.1, -3],
    'out.weight': [0.25, 3.140625], // BF16 0x4049 = f32 0x40490000
    'out.bias': [0.75],
    s_const: [Math.fround(0.05)],
  };

  it.each([
    ['with the layout given and only PyTorch metadata', { format: 'pt' }, true],
    ['with lwin metadata and no layout', { format: 'pt', cell: 'const', D: '2', H: '2', layernorm: 'true', const_s: '0.05' }, false],
  ])('reads %s', (_, metadata, giveLayout) => {
    const back = readSafetensors(buildFile(tensors, metadata), giveLayout ? { layout } : {});
    const views = new TensorViews(back.layout, back.params);
    for (const [name, values] of Object.entries(expected)) {
      const got = [...views.get(name)];
      values.forEach((v, i) => expect(Object.is(got[i], v), `${name}[${i}]: expected ${v}, got ${got[i]}`).toBe(true));
    }
    expect(back.dtypes['Wx.weight']).toBe('F16');
    expect(back.dtypes['Wx.bias']).toBe('BF16');
    expect(back.metadata.format).toBe('pt');
  });

  it('accepts a missing s_const with a warning, taking const_s from __metadata__ or the default', () => {
    const withoutS = tensors.filter((t) => t.name !== 's_const');
    const fromMeta = readSafetensors(buildFile(withoutS, { cell: 'const', D: '2', H: '2', layernorm: 'true', const_s: '0.125' }));
    expect(new TensorViews(fromMeta.layout, fromMeta.params).get('s_const')[0]).toBe(0.125);
    expect(fromMeta.warnings.join(' ')).toMatch(/no s_const; using const_s = 0.125 from __metadata__.const_s/);
    const fromDefault = readSafetensors(buildFile(withoutS, { format: 'pt' }), { layout, defaultConstS: 0.3 });
    expect(new TensorViews(layout, fromDefault.params).get('s_const')[0]).toBe(0.3);
    expect(fromDefault.warnings.join(' ')).toMatch(/no s_const; using const_s = 0.3 from the default/);
  });
});

describe('refusals name what was wrong and what was expected', () => {
  const config: ModelConfig = { cell: 'gru', inputSize: 3, hiddenSize: 4, layernorm: true };
  const layout = buildLayout(config);
  const good = rawTensors(config);
  const edit = (name: string, change: Partial<RawTensor>) => good.map((t) => (t.name === name ? { ...t, ...change } : t));
  const valid = buildFile(good);

  it.each<[string, () => Uint8Array, RegExp[]]>([
    ['missing tensor', () => buildFile(good.filter((t) => t.name !== 'Uh.weight')), [/missing tensors: Uh.weight \[4,4\]/, /expected tensors: Wz.weight \[4,3\]/]],
    ['unexpected tensor', () => buildFile([...good, { name: 'extra.bias', dtype: 'F32', shape: [2], data: le('f32', [1, 2]) }]), [/unexpected tensors: extra.bias \[2\]/]],
    ['wrong shape', () => buildFile(edit('Wr.weight', { shape: [3, 4] })), [/wrong shape: Wr.weight is \[3,4\], expected \[4,3\]/]],
    ['unsupported dtype', () => buildFile(edit('Wz.bias', { dtype: 'I64', data: new Uint8Array(32) })), [/unsupported dtype: Wz.bias is I64 \(lwin reads F64, F32, F16, BF16\)/]],
    ['LayerNorm keys missing', () => buildFile(good.filter((t) => !t.name.startsWith('ln_h.'))), [/missing tensors: ln_h.weight \[4\], ln_h.bias \[4\]/, /trained with layernorm off\?/]],
    ['truncated data', () => valid.subarray(0, valid.length - 3), [/data_offsets out of range for tensor "out.bias".*truncated file\?/]],
    ['truncated header', () => valid.subarray(0, 40), [/truncated: its header claims \d+ bytes but only 32 follow/]],
    ['shorter than the length field', () => valid.subarray(0, 5), [/truncated: 5 bytes/]],
    ['bad header JSON', () => buildFile(good, undefined, '{"Wz.weight": {"dtype": "F32",'), [/bad header JSON/]],
    ['header JSON that is not an object', () => buildFile([], undefined, '[1, 2]'), [/bad header JSON: expected an object of tensors, got an array/]],
    ['data_offsets beyond the data', () => buildFile(edit('Uz.weight', { offsets: [0, 1_000_000] })), [/data_offsets out of range for tensor "Uz.weight": \[0, 1000000\]/]],
    ['data_offsets that disagree with the shape', () => buildFile(edit('Wz.bias', { offsets: [0, 12] })), [/"Wz.bias": \[0, 12\] hold 12 bytes, but F32 \[4\] needs 16/]],
    ['malformed data_offsets', () => buildFile(edit('Wz.bias', { offsets: [16, 0] })), [/tensor "Wz.bias" has data_offsets \[16,0\]/]],
  ])('%s', (_, make, messages) => {
    const message = refusal(make(), { layout, source: 'model.safetensors' });
    for (const m of messages) expect(message).toMatch(m);
  });

  it('reports every problem at once', () => {
    const bytes = buildFile([...edit('Wr.weight', { shape: [3, 4] }).filter((t) => t.name !== 'Uh.weight'), { name: 'x', dtype: 'F32', shape: [], data: le('f32', [0]) }]);
    try {
      readSafetensors(bytes, { layout });
      throw new Error('accepted');
    } catch (err) {
      expect((err as SafetensorsError).problems).toHaveLength(3);
    }
  });

  it('refuses a file whose metadata names another model', () => {
    const message = refusal(buildFile(good, { cell: 'lstm', D: '3', H: '4', layernorm: 'true' }), { layout });
    expect(message).toMatch(/holds a lstm \(D=3, H=4, layernorm on\) model according to its __metadata__, but a gru \(D=3, H=4, layernorm on\) model was expected/);
  });

  it('refuses metadata that gives the linear cell a LayerNorm', () => {
    const message = refusal(buildFile(good, { cell: 'linear', D: '3', H: '4', layernorm: 'true' }), {});
    expect(message).toMatch(/layernorm "true" for the linear cell, which has none .* set it to "false"/);
  });

  it('refuses a file with no lwin cell in it, listing its tensors and the first weights of the cells', () => {
    const message = refusal(buildFile([{ name: 'encoder.weight', dtype: 'F32', shape: [2], data: le('f32', [1, 2]) }], { format: 'pt' }), { source: 'other.safetensors' });
    expect(message).toMatch(/other.safetensors has no lwin __metadata__ and none of the first weights .*gru: Wz.weight.*its tensors are encoder.weight \[2\]/);
  });

  it.each<[string, (t: RawTensor) => RawTensor | null, RegExp]>([
    ['a NaN', (t) => (t.name === 'Uh.weight' ? { ...t, data: le('f32', [0, 0, 0, 0, 0, 0, NaN, 0, 0, 0, 0, NaN, 0, 0, 0, 0]) } : t), /Uh.weight holds 2 non-finite values; the first is NaN at Uh.weight\[1, 2\]/],
    ['an infinity', (t) => (t.name === 'out.bias' ? { ...t, data: le('f32', [-Infinity]) } : t), /out.bias holds 1 non-finite value; the first is -Infinity at out.bias\[0\]/],
    ['an F64 beyond float32', (t) => (t.name === 'Wz.bias' ? { ...t, dtype: 'F64', data: le('f64', [0, 1e39, 0, 0]) } : t), /Wz.bias holds 1 non-finite value; the first is 1e\+39 at Wz.bias\[1\]/],
  ])('refuses weights with %s, naming the tensor and the element', (_, change, detail) => {
    const message = refusal(buildFile(good.map((t) => change(t)!)), { layout, source: 'diverged.safetensors' });
    expect(message).toMatch(/diverged.safetensors holds NaN or ±Infinity weights/);
    expect(message).toMatch(detail);
    expect(message).toMatch(/use an earlier checkpoint, or retrain/);
  });

  it('refuses tensors whose data_offsets overlap (the format gives each its own bytes)', () => {
    // Wz.bias [4] F32 moved onto the last 16 bytes of Wz.weight [4,3]: sizes agree, bytes are shared.
    const message = refusal(buildFile(edit('Wz.bias', { offsets: [32, 48] })), { layout, source: 'model.safetensors' });
    expect(message).toMatch(/model.safetensors has a bad header: tensors "Wz.weight" \[0, 48\] and "Wz.bias" \[32, 48\] overlap in data_offsets/);
  });

  it('hints at layernorm when a layernorm-off model meets LayerNorm keys', () => {
    const off = buildLayout({ ...config, layernorm: false });
    expect(refusal(valid, { layout: off })).toMatch(/unexpected tensors: ln_h.weight \[4\], ln_h.bias \[4\][\s\S]*trained with layernorm on\?/);
  });
});

describe('a bare state_dict (no lwin metadata): the model from the tensor names and shapes', () => {
  const bare = (config: ModelConfig, drop: string[] = []) => buildFile(rawTensors(config).filter((t) => !drop.includes(t.name)), { format: 'pt' });
  // linear's tensors are const's without s_const, rnn_relu's are rnn's: ambiguous on their own (below).
  const CASES = CELL_KINDS.filter((cell) => cell !== 'linear' && cell !== 'rnn' && cell !== 'rnn_relu').flatMap((cell) => layerNormChoices(cell).map((layernorm) => ({ cell, inputSize: 3, hiddenSize: 4, layernorm })));

  it.each(CASES)('infers $cell (D=3, H=4, layernorm $layernorm)', (config) => {
    const back = readSafetensors(bare(config), { source: 'state_dict.safetensors' });
    expect(back.layout.config).toEqual(config);
    expect(back.warnings).toEqual([]);
  });

  it.each<[string, () => Uint8Array, Parameters<typeof readSafetensors>[1], RegExp]>([
    ['const without s_const is linear-shaped', () => bare({ cell: 'const', inputSize: 3, hiddenSize: 4, layernorm: false }, ['s_const']), {},
      /fit 2 models: const \(D=3, H=4, layernorm off\) without its s_const buffer; linear \(D=3, H=4, layernorm off\)\. They differ in the cell \(const or linear\): say which \(lwin diagnose --cells/],
    ['shared and diag coincide at H = 1', () => bare({ cell: 'diag', inputSize: 3, hiddenSize: 1, layernorm: true }), {},
      /fit 2 models: shared \(D=3, H=1, layernorm on\); diag \(D=3, H=1, layernorm on\)\. They differ in the cell \(shared or diag\)/],
    ['nn.RNN with tanh or ReLU', () => bare({ cell: 'rnn', inputSize: 3, hiddenSize: 4, layernorm: false }), {},
      /fit 2 models: rnn \(D=3, H=4, layernorm off\); rnn_relu \(D=3, H=4, layernorm off\)\. They differ in the cell \(rnn or rnn_relu\)/],
  ])('refuses an ambiguous file, naming what is ambiguous: %s', (_, make, options, message) => {
    expect(refusal(make(), options)).toMatch(message);
  });

  it.each<[string, () => Uint8Array, ModelConfig['cell']]>([
    ['--cells linear', () => bare({ cell: 'linear', inputSize: 3, hiddenSize: 4, layernorm: false }), 'linear'],
    ['--cells const (s_const from the default, with a warning)', () => bare({ cell: 'const', inputSize: 3, hiddenSize: 4, layernorm: false }, ['s_const']), 'const'],
    ['--cells shared at H = 1', () => bare({ cell: 'diag', inputSize: 3, hiddenSize: 1, layernorm: false }), 'shared'],
    ['--cells rnn_relu', () => bare({ cell: 'rnn', inputSize: 3, hiddenSize: 4, layernorm: false }), 'rnn_relu'],
    ['--cells rnn', () => bare({ cell: 'rnn', inputSize: 3, hiddenSize: 4, layernorm: false }), 'rnn'],
  ])('the caller resolves the ambiguity: %s', (_, make, cell) => {
    expect(readSafetensors(make(), { hints: { cell } }).layout.config.cell).toBe(cell);
  });

  it('lets the hints override what inference finds, and lists the differences when the file disagrees', () => {
    const file = bare({ cell: 'gru', inputSize: 3, hiddenSize: 4, layernorm: true });
    expect(refusal(file, { hints: { hiddenSize: 8 } })).toMatch(/cannot read the file as a gru \(D=3, H=8, layernorm on\) model:[\s\S]*wrong shape: Wz.weight is \[4,3\], expected \[8,3\]/);
    expect(refusal(file, { hints: { cell: 'lstm' } })).toMatch(/has no Wi.weight, the first weight of the lstm cell, so it does not hold a lstm model; its tensors fit gru \(D=3, H=4, layernorm on\): check the cell you gave \(--cells\)/);
    expect(refusal(file, { hints: { cell: 'const' } })).toMatch(/has no Wx.weight, the first weight of the const cell/);
    expect(refusal(file, { hints: { layernorm: false } })).toMatch(/unexpected tensors: ln_h.weight \[4\], ln_h.bias \[4\][\s\S]*trained with layernorm on\?/);
  });

  it('refuses hints that contradict the file\'s lwin metadata', () => {
    const config: ModelConfig = { cell: 'gru', inputSize: 3, hiddenSize: 4, layernorm: true };
    const file = buildFile(rawTensors(config), { cell: 'gru', D: '3', H: '4', layernorm: 'true' });
    expect(readSafetensors(file, { hints: { cell: 'gru', hiddenSize: 4 } }).layout.config).toEqual(config);
    expect(refusal(file, { hints: { hiddenSize: 8 } })).toMatch(/holds a gru \(D=3, H=4, layernorm on\) model according to its __metadata__, but a gru \(D=3, H=8, layernorm on\) model was expected/);
  });
});

describe('metadata', () => {
  it('writes package.json\'s version as lwin_version', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(LWIN_VERSION).toBe(pkg.version);
  });
});
