// PyTorch's stock recurrent layers (SPEC §13): which model, its tensors under PyTorch's state_dict names, and
// named float64 views of one flat parameter array.
//
// Flat order = PyTorch's `named_parameters()` order: for k = 0…L-1 `weight_ih_l{k}` [G·H, D_k], `weight_hh_l{k}`
// [G·H, H], then (bias=True) `bias_ih_l{k}` [G·H], `bias_hh_l{k}` [G·H]; then the readout `out.weight` [K, H] and
// (readoutBias) `out.bias` [K]. D_0 = D, D_k = H for k > 0. Row blocks of G·H, each H rows (gate order in memory):
// rnn G=1; torch_gru G=3 (r, z, n); torch_lstm G=4 (i, f, g, o). Tensors are row-major in their PyTorch shape,
// unpadded. The readout is named `out.*` here whatever the user's file calls it (torch-checkpoint.ts maps names).

export type TorchCell = 'rnn' | 'torch_gru' | 'torch_lstm';
export const TORCH_CELLS: readonly TorchCell[] = ['rnn', 'torch_gru', 'torch_lstm'];
export type TorchNonlinearity = 'tanh' | 'relu';

export interface TorchModelConfig {
  cell: TorchCell;
  /** rnn only ('tanh' for the gated cells). */
  nonlinearity: TorchNonlinearity;
  /** num_layers L ≥ 1. */
  layers: number;
  inputSize: number;
  hiddenSize: number;
  /** PyTorch's `bias=`: every layer has both bias_ih and bias_hh, or none. */
  bias: boolean;
  /** K: outputs (mse) or classes (ce) of the readout [K, H]. */
  outputs: number;
  readoutBias: boolean;
}

/** Row blocks per layer, in memory order (SPEC §13). */
export const GATE_ORDER: Readonly<Record<TorchCell, readonly string[]>> = {
  rnn: ['h'],
  torch_gru: ['r', 'z', 'n'],
  torch_lstm: ['i', 'f', 'g', 'o'],
};

export function gateCount(cell: TorchCell): number {
  return GATE_ORDER[cell].length;
}

/** 2 for torch_lstm (h, c), 1 otherwise. */
export function torchStateWidth(cell: TorchCell): number {
  return cell === 'torch_lstm' ? 2 : 1;
}

export interface TorchTensorSpec {
  name: string;
  shape: readonly number[];
  offset: number;
  size: number;
}

export interface TorchLayout {
  config: Readonly<TorchModelConfig>;
  tensors: readonly TorchTensorSpec[];
  totalSize: number;
}

export const READOUT_WEIGHT = 'out.weight';
export const READOUT_BIAS = 'out.bias';

/** Names and shapes of layer k's tensors, in PyTorch's order. */
export function layerTensorShapes(config: TorchModelConfig, k: number): { name: string; shape: number[] }[] {
  const rows = gateCount(config.cell) * config.hiddenSize;
  const inputs = k === 0 ? config.inputSize : config.hiddenSize;
  const shapes = [
    { name: `weight_ih_l${k}`, shape: [rows, inputs] },
    { name: `weight_hh_l${k}`, shape: [rows, config.hiddenSize] },
  ];
  if (config.bias) shapes.push({ name: `bias_ih_l${k}`, shape: [rows] }, { name: `bias_hh_l${k}`, shape: [rows] });
  return shapes;
}

export function checkTorchConfig(config: TorchModelConfig): void {
  const sizes = { layers: config.layers, inputSize: config.inputSize, hiddenSize: config.hiddenSize, outputs: config.outputs };
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  if (!TORCH_CELLS.includes(config.cell)) throw new Error(`cell "${config.cell}" is not one of ${TORCH_CELLS.join(', ')}`);
  if (config.cell !== 'rnn' && config.nonlinearity !== 'tanh') {
    throw new Error(`nonlinearity "${config.nonlinearity}" applies to rnn only; ${config.cell} uses tanh`);
  }
}

export function torchLayout(config: TorchModelConfig): TorchLayout {
  checkTorchConfig(config);
  const declared: { name: string; shape: number[] }[] = [];
  for (let k = 0; k < config.layers; k++) declared.push(...layerTensorShapes(config, k));
  declared.push({ name: READOUT_WEIGHT, shape: [config.outputs, config.hiddenSize] });
  if (config.readoutBias) declared.push({ name: READOUT_BIAS, shape: [config.outputs] });
  let offset = 0;
  const tensors = declared.map((t) => {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const spec = { ...t, offset, size };
    offset += size;
    return spec;
  });
  return { config: { ...config }, tensors, totalSize: offset };
}

/** One layer's parameters (views into the flat array); biases null for bias=False. */
export interface TorchLayerParams {
  weightIh: Float64Array;
  weightHh: Float64Array;
  biasIh: Float64Array | null;
  biasHh: Float64Array | null;
  inputSize: number;
}

export interface TorchParams {
  layout: TorchLayout;
  /** The flat array the views below alias. */
  data: Float64Array;
  layers: TorchLayerParams[];
  readout: { weight: Float64Array; bias: Float64Array | null };
}

/** Named views of `data` (the weights, a gradient or a direction), which must have layout.totalSize elements. */
export function torchParams(layout: TorchLayout, data: Float64Array = new Float64Array(layout.totalSize)): TorchParams {
  if (data.length !== layout.totalSize) {
    throw new Error(`parameter array has ${data.length} elements; the ${describeTorchConfig(layout.config)} layout needs ${layout.totalSize}`);
  }
  const byName = new Map(layout.tensors.map((t) => [t.name, data.subarray(t.offset, t.offset + t.size)]));
  const { config } = layout;
  const layers = Array.from({ length: config.layers }, (_, k) => ({
    weightIh: byName.get(`weight_ih_l${k}`)!,
    weightHh: byName.get(`weight_hh_l${k}`)!,
    biasIh: byName.get(`bias_ih_l${k}`) ?? null,
    biasHh: byName.get(`bias_hh_l${k}`) ?? null,
    inputSize: k === 0 ? config.inputSize : config.hiddenSize,
  }));
  return { layout, data, layers, readout: { weight: byName.get(READOUT_WEIGHT)!, bias: byName.get(READOUT_BIAS) ?? null } };
}

export function describeTorchConfig(c: TorchModelConfig): string {
  const kind = c.cell === 'rnn' ? `rnn (${c.nonlinearity})` : c.cell;
  return `${kind}, ${c.layers} layer${c.layers === 1 ? '' : 's'}, D=${c.inputSize}, H=${c.hiddenSize}${c.bias ? '' : ', bias=False'}, readout K=${c.outputs}${c.readoutBias ? '' : ' without bias'}`;
}
