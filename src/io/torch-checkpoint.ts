// Reading a user's PyTorch checkpoint as it is (SPEC §13): the state_dict of a module holding one nn.RNN, nn.GRU
// or nn.LSTM (under any prefix: `rnn.`, `encoder.lstm.`) and a linear readout [K, H], saved with
// `safetensors.torch.save_file(model.state_dict(), "model.safetensors")`.
//
// - cell from the row blocks G = rows(weight_hh_l0) / H: 1 rnn, 3 torch_gru, 4 torch_lstm. The file cannot tell an
//   RNN's tanh from ReLU: __metadata__.nonlinearity (lwin writes it), else the caller's, else tanh with a warning.
// - prefix: the one name ending in `weight_ih_l0`, or given; layers: weight_ih_l0, _l1, … while present.
// - readout: the only other 2-D tensor, or given by name (`head` or `head.weight`); its bias `<name>.bias` if present.
// - refused, saying so: proj_size (`weight_hr_l{k}`), bidirectional (`_reverse`), missing layers or biases, shapes
//   that disagree, several recurrent layers or readout candidates (naming them and the flag), non-finite values.
// Tensors that are neither (a dropout has none; BatchNorm buffers, an unused decoder) are listed in `warnings`.
import { readFile } from 'node:fs/promises';
import { describeShape } from '../model/params.ts';
import {
  describeTorchConfig, gateCount, layerTensorShapes, torchLayout, torchParams, READOUT_BIAS, READOUT_WEIGHT,
  type TorchCell, type TorchLayout, type TorchModelConfig, type TorchNonlinearity, type TorchParams,
} from '../model/f64/torch/config.ts';
import { DTYPE_BYTES, SafetensorsError } from './safetensors-format.ts';
import { parseSafetensorsHeader, readNamedTensors } from './safetensors.ts';

/** The one line of Python that turns a pickled model into what lwin reads. */
export const CONVERT_TO_SAFETENSORS = 'safetensors.torch.save_file(model.state_dict(), "model.safetensors")';

const CELL_BY_GATES: Readonly<Record<number, TorchCell>> = { 1: 'rnn', 3: 'torch_gru', 4: 'torch_lstm' };

export interface TorchCheckpointOptions {
  /** The recurrent layer's prefix (`rnn.`; the trailing dot may be left out); found when absent. */
  prefix?: string;
  /** The readout's name (`head` or `head.weight`); the only other 2-D tensor when absent. */
  readout?: string;
  /** rnn's nonlinearity, which a state_dict does not record. */
  nonlinearity?: TorchNonlinearity;
  /** Name used in messages, e.g. the file path. */
  source?: string;
}

export interface TorchCheckpoint {
  config: TorchModelConfig;
  layout: TorchLayout;
  /** Named float64 views of the flat parameters (layout order: layers, then the readout as out.*). */
  params: TorchParams;
  /** The recurrent layer's prefix in the file, '' or ending in '.'. */
  prefix: string;
  /** The readout's names in the file. */
  readout: { weight: string; bias: string | null };
  metadata: Record<string, string>;
  warnings: string[];
}

type Tensors = ReadonlyMap<string, { shape: number[]; data: Float64Array }>;

/** A `.pt`/`.pth` (or any zip/pickle) file is refused with the conversion; otherwise the file is read as safetensors. */
export async function readTorchCheckpointFile(path: string, options: Omit<TorchCheckpointOptions, 'source'> = {}): Promise<TorchCheckpoint> {
  const bytes = await readFile(path).catch((e: Error) => {
    throw new Error(`cannot read the checkpoint ${path}: ${e.message}`);
  });
  return readTorchCheckpoint(bytes, { ...options, source: path });
}

export function readTorchCheckpoint(bytes: Uint8Array, options: TorchCheckpointOptions = {}): TorchCheckpoint {
  const source = options.source ?? 'the checkpoint';
  refusePickle(bytes, source);
  const header = parseSafetensorsHeader(bytes, source);
  const unsupported = [...header.tensors].filter(([, e]) => DTYPE_BYTES[e.dtype as keyof typeof DTYPE_BYTES] === undefined);
  const { metadata, tensors } = readNamedTensors(bytes, source);
  return torchCheckpointFromTensors(tensors, metadata, options, new Set(unsupported.map(([n]) => n)));
}

/** Whether a file name ends in one of PyTorch's pickle extensions (.pt, .pth, .ckpt, .bin); no Node API, so pages may call it. */
export function hasPickleExtension(source: string): boolean {
  const dot = source.lastIndexOf('.');
  return dot > Math.max(source.lastIndexOf('/'), source.lastIndexOf('\\')) && ['.pt', '.pth', '.ckpt', '.bin'].includes(source.slice(dot).toLowerCase());
}

function refusePickle(bytes: Uint8Array, source: string): void {
  // A safetensors file has its JSON header at byte 8; without one, torch.save's zip archive ("PK") or a legacy
  // pickle (protocol byte 0x80) is what users hand over most often.
  const safetensors = bytes[8] === 0x7b;
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  const pickle = bytes[0] === 0x80 && bytes[1] !== undefined && bytes[1] <= 5;
  if (hasPickleExtension(source) || (!safetensors && (zip || pickle))) {
    throw new SafetensorsError(
      `${source} is a PyTorch pickle (torch.save), which lwin does not read (unpickling runs code). Export the weights as safetensors in Python: ${CONVERT_TO_SAFETENSORS}`,
    );
  }
}

/** The model in `tensors` (name → shape, float64 data), per the rules at the top of this file. */
export function torchCheckpointFromTensors(tensors: Tensors, metadata: Record<string, string>, options: TorchCheckpointOptions = {}, unsupportedDtypes: ReadonlySet<string> = new Set()): TorchCheckpoint {
  const source = options.source ?? 'the checkpoint';
  const holds = () => `${source} holds ${listTensors(tensors)}`;
  const prefix = findPrefix(tensors, options.prefix, source, holds);
  refuseUnsupportedLayers(tensors, prefix, source);
  const config0 = layerSizes(tensors, prefix, source);
  const readout = findReadout(tensors, prefix, options.readout, config0.hiddenSize, source, holds);
  const warnings: string[] = [];
  const nonlinearity = chooseNonlinearity(config0.cell, metadata, options.nonlinearity, source, warnings);
  const config: TorchModelConfig = { ...config0, nonlinearity, outputs: tensors.get(readout.weight)!.shape[0]!, readoutBias: readout.bias !== null };
  const layout = torchLayout(config);
  const fileName = (name: string) => (name === READOUT_WEIGHT ? readout.weight : name === READOUT_BIAS ? readout.bias! : prefix + name);
  checkShapes(tensors, layout, fileName, source);
  const params = torchParams(layout);
  for (const spec of layout.tensors) {
    const name = fileName(spec.name);
    if (unsupportedDtypes.has(name)) throw new SafetensorsError(`${source}: tensor "${name}" has a dtype lwin does not read; store it as F32, F64, F16 or BF16`);
    const data = tensors.get(name)!.data;
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new SafetensorsError(`${source}: tensor "${name}" element ${bad} is ${data[bad]}; lwin needs finite weights (was training diverging?)`);
    params.data.set(data, spec.offset);
  }
  const used = new Set(layout.tensors.map((t) => fileName(t.name)));
  const ignored = [...tensors.keys()].filter((n) => !used.has(n));
  if (ignored.length) warnings.push(`${source}: ignoring ${ignored.length} tensor${ignored.length === 1 ? '' : 's'} outside the ${describeTorchConfig(config)} model: ${ignored.join(', ')}`);
  return { config, layout, params, prefix, readout, metadata, warnings };
}

function listTensors(tensors: Tensors): string {
  const all = [...tensors].map(([n, t]) => `${n} ${describeShape(t.shape)}`);
  return all.length > 12 ? `${all.slice(0, 12).join(', ')} and ${all.length - 12} more` : all.join(', ') || 'no tensors';
}

function findPrefix(tensors: Tensors, given: string | undefined, source: string, holds: () => string): string {
  const found = [...tensors.keys()].filter((n) => n.endsWith('weight_ih_l0') && (n === 'weight_ih_l0' || n.endsWith('.weight_ih_l0'))).map((n) => n.slice(0, -'weight_ih_l0'.length));
  if (given !== undefined) {
    const prefix = given === '' || given.endsWith('.') ? given : `${given}.`;
    if (!tensors.has(`${prefix}weight_ih_l0`)) {
      throw new SafetensorsError(`${source} has no ${prefix}weight_ih_l0, so --prefix ${given} names no recurrent layer; ${found.length ? `its recurrent layers are under ${found.map((p) => `"${p}"`).join(', ')}` : holds()}`);
    }
    return prefix;
  }
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    throw new SafetensorsError(`${source} holds ${found.length} recurrent layers (${found.map((p) => `${p}weight_ih_l0`).join(', ')}); say which to diagnose with --prefix, e.g. --prefix ${found[0] || "''"}`);
  }
  throw new SafetensorsError(
    `${source} has no weight_ih_l0 of a torch.nn.RNN, GRU or LSTM under any prefix; ${holds()}. ` +
      'lwin reads the state_dict of a module with one of these layers; for the paper\'s own cells (Wx.weight, Wz.weight …) use --weights',
  );
}

function refuseUnsupportedLayers(tensors: Tensors, prefix: string, source: string): void {
  const mine = [...tensors.keys()].filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  const projection = mine.find((n) => /^weight_hr_l\d+/.test(n));
  if (projection) {
    throw new SafetensorsError(`${source} holds ${prefix}${projection}: an LSTM with proj_size > 0, which lwin does not support (SPEC §13); retrain with proj_size=0 (the default)`);
  }
  const reverse = mine.find((n) => /^(weight|bias)_(ih|hh)_l\d+_reverse$/.test(n));
  if (reverse) {
    throw new SafetensorsError(`${source} holds ${prefix}${reverse}: a bidirectional layer (bidirectional=True), which lwin does not support (SPEC §13): its backward direction reads the future, so no learnability window applies`);
  }
}

function layerSizes(tensors: Tensors, prefix: string, source: string): Omit<TorchModelConfig, 'nonlinearity' | 'outputs' | 'readoutBias'> {
  const hh = tensors.get(`${prefix}weight_hh_l0`);
  const ih = tensors.get(`${prefix}weight_ih_l0`)!;
  if (!hh || hh.shape.length !== 2 || ih.shape.length !== 2) {
    throw new SafetensorsError(`${source}: ${prefix}weight_ih_l0 ${describeShape(ih.shape)} needs its ${prefix}weight_hh_l0 [G·H, H]${hh ? `, found ${describeShape(hh.shape)}` : ', which is missing'}`);
  }
  const hidden = hh.shape[1]!;
  const gates = hh.shape[0]! / hidden;
  const cell = CELL_BY_GATES[gates];
  if (!cell) {
    throw new SafetensorsError(`${source}: ${prefix}weight_hh_l0 is ${describeShape(hh.shape)}, ${hh.shape[0]} rows for H=${hidden}; nn.RNN, GRU and LSTM have 1, 3 or 4 blocks of H rows`);
  }
  let layers = 1;
  while (tensors.has(`${prefix}weight_ih_l${layers}`)) layers++;
  const stray = [...tensors.keys()].map((n) => n.startsWith(prefix) && /^(weight|bias)_(ih|hh)_l(\d+)$/.exec(n.slice(prefix.length))).find((m) => m && Number(m[3]) >= layers);
  if (stray) {
    throw new SafetensorsError(`${source} has ${prefix}${stray[0]} but no ${prefix}weight_ih_l${layers}: layer ${layers} is missing, so the stack is incomplete (layers 0…${layers - 1} found)`);
  }
  return { cell, layers, inputSize: ih.shape[1]!, hiddenSize: hidden, bias: tensors.has(`${prefix}bias_ih_l0`) || tensors.has(`${prefix}bias_hh_l0`) };
}

function findReadout(tensors: Tensors, prefix: string, given: string | undefined, hidden: number, source: string, holds: () => string): { weight: string; bias: string | null } {
  // Any recurrent layer's tensors (also another layer's, under another prefix) are no readout.
  const recurrent = (n: string) => /(^|\.)(weight|bias)_(ih|hh)_l\d+(_reverse)?$/.test(n);
  let weight: string;
  if (given !== undefined) {
    weight = given.endsWith('.weight') || tensors.has(given) ? given : `${given}.weight`;
    if (!tensors.has(weight)) throw new SafetensorsError(`${source} has no ${weight} for --readout ${given}; ${holds()}`);
  } else {
    const candidates = [...tensors].filter(([n, t]) => !recurrent(n) && t.shape.length === 2).map(([n]) => n);
    if (candidates.length === 0) {
      throw new SafetensorsError(`${source} has no readout: no 2-D weight besides the recurrent layer's; lwin needs the linear head [K, H=${hidden}] (e.g. head.weight). ${holds()}`);
    }
    if (candidates.length > 1) {
      const listed = candidates.map((n) => `${n} ${describeShape(tensors.get(n)!.shape)}`).join(', ');
      throw new SafetensorsError(`${source} has ${candidates.length} 2-D weights that could be the readout (${listed}); say which with --readout NAME, e.g. --readout ${candidates[0]!.replace(/\.weight$/, '')}`);
    }
    weight = candidates[0]!;
  }
  const shape = tensors.get(weight)!.shape;
  if (shape.length !== 2 || shape[1] !== hidden || shape[0]! < 1) {
    throw new SafetensorsError(`${source}: the readout ${weight} is ${describeShape(shape)}, but a linear readout on the last layer's h is [K, H=${hidden}]; if another tensor is the readout, give it with --readout NAME`);
  }
  const biasName = weight.endsWith('.weight') ? `${weight.slice(0, -'.weight'.length)}.bias` : null;
  return { weight, bias: biasName && tensors.has(biasName) ? biasName : null };
}

function chooseNonlinearity(cell: TorchCell, metadata: Record<string, string>, given: TorchNonlinearity | undefined, source: string, warnings: string[]): TorchNonlinearity {
  const recorded = metadata.nonlinearity;
  if (recorded !== undefined && recorded !== 'tanh' && recorded !== 'relu') throw new SafetensorsError(`${source}: __metadata__.nonlinearity is "${recorded}"; expected "tanh" or "relu"`);
  if (cell !== 'rnn') {
    if (given === 'relu') throw new SafetensorsError(`${source} holds a ${cell}, which has no nonlinearity option; --nonlinearity relu applies to nn.RNN only`);
    return 'tanh';
  }
  if (given && recorded && given !== recorded) throw new SafetensorsError(`${source} records nonlinearity "${recorded}" in __metadata__, but ${given} was given; drop --nonlinearity or fix the file`);
  if (given ?? recorded) return (given ?? recorded) as TorchNonlinearity;
  warnings.push(`${source} holds an nn.RNN, whose state_dict does not record its nonlinearity; assuming tanh (the default): pass --nonlinearity relu if the model was built with nonlinearity='relu'`);
  return 'tanh';
}

function checkShapes(tensors: Tensors, layout: TorchLayout, fileName: (n: string) => string, source: string): void {
  const { config } = layout;
  const problems: string[] = [];
  for (let k = 0; k < config.layers; k++) {
    for (const expected of layerTensorShapes(config, k)) {
      const got = tensors.get(fileName(expected.name));
      if (!got) problems.push(`${fileName(expected.name)} is missing (${config.bias ? 'a bias=True layer has bias_ih and bias_hh at every layer' : 'expected'} ${describeShape(expected.shape)})`);
      else if (describeShape(got.shape) !== describeShape(expected.shape)) problems.push(`${fileName(expected.name)} is ${describeShape(got.shape)}, expected ${describeShape(expected.shape)}`);
    }
    for (const name of config.bias ? [] : [`bias_ih_l${k}`, `bias_hh_l${k}`]) {
      if (tensors.has(fileName(name))) problems.push(`${fileName(name)} is present, but layer 0 has no bias (bias=False applies to every layer)`);
    }
  }
  if (config.readoutBias) {
    const bias = tensors.get(fileName(READOUT_BIAS))!;
    if (describeShape(bias.shape) !== describeShape([config.outputs])) problems.push(`${fileName(READOUT_BIAS)} is ${describeShape(bias.shape)}, expected [${config.outputs}]`);
  }
  if (problems.length) {
    throw new SafetensorsError(`${source} does not hold a consistent ${describeTorchConfig(config)} (G=${gateCount(config.cell)} row blocks): ${problems.join('; ')}`, problems);
  }
}
