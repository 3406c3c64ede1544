// Reading a user's PyTorch checkpoint as it is (src/io/torch-checkpoint.ts): prefix and readout found or given,
// bias=False, and a refusal for everything lwin cannot diagnose that says what and what to do. Writing back under
// PyTorch's names, and the round trip twin → file → reader → same tensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNamedTensors } from '../../src/io/safetensors.ts';
import { CONVERT_TO_SAFETENSORS, readTorchCheckpoint, torchCheckpointFromTensors, type TorchCheckpointOptions } from '../../src/io/torch-checkpoint.ts';
import { lstmSummedBias, writeTorchCheckpoint } from '../../src/io/torch-checkpoint-write.ts';
import { torchForward, torchLayout, torchParams, type TorchModelConfig } from '../../src/model/f64/torch/index.ts';
import { Rng } from '../../src/util/random.ts';

const [D, H, K] = [3, 4, 2];

/** A state_dict's names and shapes (values random): an LSTM (G=4) of `layers` layers under `prefix`, plus extras. */
function lstmStateDict(prefix: string, layers: number, extra: Record<string, number[]> = {}, bias = true): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (let k = 0; k < layers; k++) {
    shapes[`${prefix}weight_ih_l${k}`] = [4 * H, k ? H : D];
    shapes[`${prefix}weight_hh_l${k}`] = [4 * H, H];
    if (bias) Object.assign(shapes, { [`${prefix}bias_ih_l${k}`]: [4 * H], [`${prefix}bias_hh_l${k}`]: [4 * H] });
  }
  return { ...shapes, ...extra };
}

function file(shapes: Record<string, number[]>, metadata: Record<string, string> = {}, seed = 3): Uint8Array {
  const rng = new Rng(seed);
  const tensors = Object.entries(shapes).map(([name, shape]) => ({ name, shape, data: uniform(rng, shape.reduce((a, b) => a * b, 1), -1, 1) }));
  return writeNamedTensors(tensors, metadata);
}

const HEAD = { 'head.weight': [K, H], 'head.bias': [K] };

describe('reading a PyTorch checkpoint', () => {
  it.each([
    { name: 'a one-layer LSTM under rnn. with head', shapes: lstmStateDict('rnn.', 1, HEAD), options: {}, expected: { prefix: 'rnn.', layers: 1, readout: 'head.weight', bias: true } },
    { name: 'a nested prefix and a head of another name', shapes: lstmStateDict('encoder.lstm.', 2, { 'decoder.weight': [K, H], 'decoder.bias': [K] }), options: {}, expected: { prefix: 'encoder.lstm.', layers: 2, readout: 'decoder.weight', bias: true } },
    { name: 'no prefix (the layer itself saved) and a head without bias', shapes: lstmStateDict('', 2, { 'fc.weight': [K, H] }), options: {}, expected: { prefix: '', layers: 2, readout: 'fc.weight', bias: true } },
    { name: 'bias=False layers', shapes: lstmStateDict('rnn.', 2, HEAD, false), options: {}, expected: { prefix: 'rnn.', layers: 2, readout: 'head.weight', bias: false } },
    { name: 'two recurrent layers, one chosen with --prefix', shapes: { ...lstmStateDict('enc.', 1), ...lstmStateDict('dec.', 1), ...HEAD }, options: { prefix: 'dec' }, expected: { prefix: 'dec.', layers: 1, readout: 'head.weight', bias: true } },
    { name: 'two 2-D candidates, one chosen with --readout', shapes: lstmStateDict('rnn.', 1, { ...HEAD, 'aux.weight': [5, H] }), options: { readout: 'head' }, expected: { prefix: 'rnn.', layers: 1, readout: 'head.weight', bias: true } },
  ] as { name: string; shapes: Record<string, number[]>; options: TorchCheckpointOptions; expected: { prefix: string; layers: number; readout: string; bias: boolean } }[])(
    'reads $name', ({ shapes, options, expected }) => {
      const model = readTorchCheckpoint(file(shapes), options);
      expect(model.prefix).toBe(expected.prefix);
      expect(model.readout.weight).toBe(expected.readout);
      expect(model.config).toMatchObject({ cell: 'torch_lstm', layers: expected.layers, inputSize: D, hiddenSize: H, outputs: K, bias: expected.bias });
      expect(model.config.readoutBias).toBe(model.readout.bias !== null);
    },
  );

  it('lists the tensors it ignores', () => {
    const model = readTorchCheckpoint(file(lstmStateDict('rnn.', 1, { ...HEAD, 'norm.running_mean': [H] })), { source: 'm.safetensors' });
    expect(model.warnings).toEqual([expect.stringMatching(/m.safetensors: ignoring 1 tensor outside the torch_lstm, 1 layer, D=3, H=4, readout K=2 model: norm.running_mean/)]);
  });

  it('tells rnn from GRU and LSTM by the row blocks, and warns that ReLU cannot be told from tanh', () => {
    const rnn = { 'rnn.weight_ih_l0': [H, D], 'rnn.weight_hh_l0': [H, H], ...HEAD };
    const gru = { 'rnn.weight_ih_l0': [3 * H, D], 'rnn.weight_hh_l0': [3 * H, H], ...HEAD };
    expect(readTorchCheckpoint(file(gru)).config.cell).toBe('torch_gru');
    const assumed = readTorchCheckpoint(file(rnn));
    expect(assumed.config).toMatchObject({ cell: 'rnn', nonlinearity: 'tanh', bias: false });
    expect(assumed.warnings[0]).toMatch(/does not record its nonlinearity; assuming tanh \(the default\): pass --nonlinearity relu/);
    expect(readTorchCheckpoint(file(rnn), { nonlinearity: 'relu' })).toMatchObject({ config: { nonlinearity: 'relu' }, warnings: [] });
    expect(readTorchCheckpoint(file(rnn, { nonlinearity: 'relu' }))).toMatchObject({ config: { nonlinearity: 'relu' }, warnings: [] });
  });

  it.each([
    { name: 'a .pt path', bytes: file(lstmStateDict('rnn.', 1, HEAD)), source: 'model.pt', message: /model.pt is a PyTorch pickle \(torch.save\).*safetensors.torch.save_file\(model.state_dict\(\), "model.safetensors"\)/ },
    { name: 'a .pth path', bytes: file(lstmStateDict('rnn.', 1, HEAD)), source: 'model.pth', message: /is a PyTorch pickle/ },
    { name: 'torch.save bytes (a zip) under another name', bytes: Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0]), source: 'model.safetensors', message: /is a PyTorch pickle/ },
    { name: 'proj_size', shapes: lstmStateDict('rnn.', 1, { 'rnn.weight_hr_l0': [2, H], ...HEAD }), message: /holds rnn.weight_hr_l0: an LSTM with proj_size > 0, which lwin does not support.*proj_size=0/ },
    { name: 'bidirectional', shapes: lstmStateDict('rnn.', 1, { 'rnn.weight_ih_l0_reverse': [4 * H, D], ...HEAD }), message: /holds rnn.weight_ih_l0_reverse: a bidirectional layer \(bidirectional=True\), which lwin does not support/ },
    { name: 'no recurrent layer', shapes: { 'Wx.weight': [H, D], 'Wh.weight': [H, H] }, message: /has no weight_ih_l0 of a torch.nn.RNN, GRU or LSTM under any prefix; .* holds Wx.weight \[4,3\], Wh.weight \[4,4\].*use --weights/ },
    { name: 'two recurrent layers', shapes: { ...lstmStateDict('enc.', 1), ...lstmStateDict('dec.', 1), ...HEAD }, message: /holds 2 recurrent layers \(enc.weight_ih_l0, dec.weight_ih_l0\); say which to diagnose with --prefix, e.g. --prefix enc./ },
    { name: 'a --prefix that names nothing', shapes: lstmStateDict('rnn.', 1, HEAD), options: { prefix: 'lstm' }, message: /has no lstm.weight_ih_l0, so --prefix lstm names no recurrent layer; its recurrent layers are under "rnn."/ },
    { name: 'no readout', shapes: lstmStateDict('rnn.', 1), message: /has no readout: no 2-D weight besides the recurrent layer's; lwin needs the linear head \[K, H=4\]/ },
    { name: 'several readout candidates', shapes: lstmStateDict('rnn.', 1, { ...HEAD, 'embed.weight': [10, D] }), message: /has 2 2-D weights that could be the readout \(head.weight \[2,4\], embed.weight \[10,3\]\); say which with --readout NAME, e.g. --readout head/ },
    { name: 'a --readout that is not there', shapes: lstmStateDict('rnn.', 1, HEAD), options: { readout: 'fc' }, message: /has no fc.weight for --readout fc; .* holds rnn.weight_ih_l0/ },
    { name: 'a readout of the wrong width', shapes: lstmStateDict('rnn.', 1, { 'head.weight': [K, H + 1] }), message: /the readout head.weight is \[2,5\], but a linear readout on the last layer's h is \[K, H=4\]/ },
    { name: 'a missing middle layer', shapes: { ...lstmStateDict('rnn.', 1, HEAD), 'rnn.weight_hh_l2': [4 * H, H] }, message: /has rnn.weight_hh_l2 but no rnn.weight_ih_l1: layer 1 is missing/ },
    { name: 'a missing bias in layer 1', shapes: (() => { const s = lstmStateDict('rnn.', 2, HEAD); delete s['rnn.bias_hh_l1']; return s; })(), message: /rnn.bias_hh_l1 is missing \(a bias=True layer has bias_ih and bias_hh at every layer \[16\]\)/ },
    { name: 'a layer of the wrong shape', shapes: lstmStateDict('rnn.', 2, { ...HEAD, 'rnn.weight_ih_l1': [4 * H, H + 1] }), message: /rnn.weight_ih_l1 is \[16,5\], expected \[16,4\]/ },
    { name: 'a row count that is no nn layer', shapes: { 'rnn.weight_ih_l0': [2 * H, D], 'rnn.weight_hh_l0': [2 * H, H], ...HEAD }, message: /rnn.weight_hh_l0 is \[8,4\], 8 rows for H=4; nn.RNN, GRU and LSTM have 1, 3 or 4 blocks/ },
    { name: '--nonlinearity relu on a GRU', shapes: { 'rnn.weight_ih_l0': [3 * H, D], 'rnn.weight_hh_l0': [3 * H, H], ...HEAD }, options: { nonlinearity: 'relu' }, message: /holds a torch_gru, which has no nonlinearity option/ },
  ] as { name: string; shapes?: Record<string, number[]>; bytes?: Uint8Array; source?: string; options?: TorchCheckpointOptions; message: RegExp }[])(
    'refuses $name, saying what and what to do', ({ shapes, bytes, source, options, message }) => {
      expect(() => readTorchCheckpoint(bytes ?? file(shapes!), { ...options, source: source ?? 'model.safetensors' })).toThrow(message);
    },
  );

  it('refuses a non-finite weight, naming the tensor and element', () => {
    const tensors = new Map([...readTorchCheckpointTensors(lstmStateDict('rnn.', 1, HEAD))]);
    tensors.get('rnn.weight_hh_l0')!.data[5] = NaN;
    expect(() => torchCheckpointFromTensors(tensors, {}, { source: 'm' })).toThrow(/m: tensor "rnn.weight_hh_l0" element 5 is NaN/);
  });

  it('tells a legacy pickle from a safetensors file whose header length starts like one', () => {
    const pickle = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x05, 0x00, 0x00]);
    expect(() => readTorchCheckpoint(pickle, { source: 'model.safetensors' })).toThrow(/is a PyTorch pickle/);
    // Pad __metadata__ until the header is 0x280 bytes long: the file then starts 0x80 0x02, as a pickle does.
    let bytes = file(lstmStateDict('rnn.', 1, HEAD));
    for (let pad = 0; !(bytes[0] === 0x80 && bytes[1] === 0x02); pad++) bytes = file(lstmStateDict('rnn.', 1, HEAD), { pad: 'x'.repeat(pad) });
    expect(readTorchCheckpoint(bytes).config.cell).toBe('torch_lstm');
  });

  it('refuses an integer dtype in a tensor it needs, and ignores one in a tensor it does not', () => {
    const withDtype = (shapes: Record<string, number[]>, name: string) => {
      const bytes = file(shapes);
      const text = new TextDecoder().decode(bytes);
      const at = text.indexOf(`"${name}":{"dtype":"F32"`) + `"${name}":{"dtype":"`.length;
      bytes.set(new TextEncoder().encode('I32'), at); // same width, so the offsets still hold
      return bytes;
    };
    expect(() => readTorchCheckpoint(withDtype(lstmStateDict('rnn.', 1, HEAD), 'rnn.weight_hh_l0'), { source: 'm' })).toThrow(/m: tensor "rnn.weight_hh_l0" has a dtype lwin does not read; store it as F32, F64, F16 or BF16/);
    const model = readTorchCheckpoint(withDtype(lstmStateDict('rnn.', 1, { ...HEAD, 'bn.num_batches_tracked': [1] }), 'bn.num_batches_tracked'), { source: 'm' });
    expect(model.warnings).toEqual([expect.stringContaining('ignoring 1 tensor outside the torch_lstm, 1 layer, D=3, H=4, readout K=2 model: bn.num_batches_tracked')]);
  });

  it('names the conversion as one line of Python', () => {
    expect(CONVERT_TO_SAFETENSORS).toBe('safetensors.torch.save_file(model.state_dict(), "model.safetensors")');
  });
});

function readTorchCheckpointTensors(shapes: Record<string, number[]>) {
  const rng = new Rng(5);
  return new Map(Object.entries(shapes).map(([name, shape]) => [name, { shape, data: uniform(rng, shape.reduce((a, b) => a * b, 1), -1, 1) }]));
}

describe('writing back under PyTorch names', () => {
  const configs: TorchModelConfig[] = [
    { cell: 'rnn', nonlinearity: 'relu', layers: 2, inputSize: D, hiddenSize: H, bias: true, outputs: K, readoutBias: true },
    { cell: 'torch_gru', nonlinearity: 'tanh', layers: 2, inputSize: D, hiddenSize: H, bias: false, outputs: K, readoutBias: false },
    { cell: 'torch_lstm', nonlinearity: 'tanh', layers: 3, inputSize: D, hiddenSize: H, bias: true, outputs: K, readoutBias: true },
  ];

  it.each(configs)('round-trips $cell ($layers layers, bias $bias): twin → file → reader → the same tensors, names and model', (config) => {
    const layout = torchLayout(config);
    const params = torchParams(layout, uniform(new Rng(11), layout.totalSize, -1, 1));
    const bytes = writeTorchCheckpoint(params, { prefix: 'encoder.rnn.', readout: 'classifier', dtype: 'F64' });
    const back = readTorchCheckpoint(bytes);
    expect(back.config).toEqual(config);
    expect(back.prefix).toBe('encoder.rnn.');
    expect(back.readout).toEqual({ weight: 'classifier.weight', bias: config.readoutBias ? 'classifier.bias' : null });
    expect(back.params.data).toEqual(params.data);
    expect(back.warnings).toEqual([]);
    // F32 (the default) stores every value rounded once.
    expect(readTorchCheckpoint(writeTorchCheckpoint(params)).params.data).toEqual(params.data.map(Math.fround));
  });

  it('writes PyTorch\'s state_dict names in its order', () => {
    const layout = torchLayout(configs[2]!);
    const bytes = writeTorchCheckpoint(torchParams(layout), { prefix: 'rnn.', readout: 'head' });
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))))) as Record<string, unknown>;
    expect(Object.keys(header).filter((k) => k !== '__metadata__')).toEqual([
      ...[0, 1, 2].flatMap((k) => [`rnn.weight_ih_l${k}`, `rnn.weight_hh_l${k}`, `rnn.bias_ih_l${k}`, `rnn.bias_hh_l${k}`]), 'head.weight', 'head.bias',
    ]);
    expect(header.__metadata__).toMatchObject({ cell: 'torch_lstm', nonlinearity: 'tanh', layers: '3' });
    expect(() => writeTorchCheckpoint(torchParams(layout), { prefix: 'rnn' })).toThrow(/prefix "rnn" must be empty or end in "."/);
  });

  it('an LSTM written with one summed bias (bias_ih = sum, bias_hh = 0) is the same model', () => {
    const layout = torchLayout(configs[2]!);
    const params = torchParams(layout, uniform(new Rng(12), layout.totalSize, -1, 1));
    const summed = readTorchCheckpoint(writeTorchCheckpoint(lstmSummedBias(params), { dtype: 'F64' })).params;
    expect(summed.layers.every((l) => l.biasHh!.every((v) => v === 0))).toBe(true);
    const x = normal(new Rng(13), 2 * 5 * D);
    const [a, b] = [torchForward(params, { x, batch: 2, steps: 5 }).yHat, torchForward(summed, { x, batch: 2, steps: 5 }).yHat];
    a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(1e-14));
    expect(() => lstmSummedBias(torchParams(torchLayout(configs[1]!)))).toThrow(/applies to torch_lstm; torch_gru's biases are kept apart/);
  });

  it('the committed fixture a lwin-written file was checked against loads back identically', () => {
    const path = join(import.meta.dirname, '..', 'fixtures', 'torch', 'lstm_l2.model.safetensors');
    const model = readTorchCheckpoint(readFileSync(path), { source: path });
    const again = readTorchCheckpoint(writeTorchCheckpoint(model.params, { prefix: model.prefix, readout: 'classifier' }));
    expect(again.params.data).toEqual(model.params.data);
  });
});

/** Rng's fills, typed as the Float64Array they are given. */
function uniform(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  rng.fillUniform(out, lo, hi);
  return out;
}

function normal(rng: Rng, n: number): Float64Array {
  const out = new Float64Array(n);
  rng.fillNormal(out);
  return out;
}
