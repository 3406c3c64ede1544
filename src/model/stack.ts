// A stack of L PyTorch layers (SPEC §13) as the GPU runs it: each layer k is one of lwin's single-layer torch cells
// (its tensors renamed `…_l0`), reading D_k = D (k = 0) or H inputs, with the stack's readout on every layer (only
// the last layer's ŷ is the model's; the others' are never read).
//
// The diagnostics' tangent of layer k ≥ 1 must carry the JVP of the layers below, v^{(k-1)}_t, as an input
// perturbation ẋ_t. The tangent kernel differentiates along a parameter direction with x held fixed, so the layer
// is given the input rows [h^{(k-1)}_t, v^{(k-1)}_t] (D = 2H), weight_ih [W_ih | 0] and, in the direction,
// weight_ih [w_ih | W_ih]: its pre-activation W_ih h is unchanged and its tangent is w_ih h + W_ih v, exactly
// ȧ = ẇ x + W ẋ. The forward and the layer errors read the same rows (the zero columns add nothing); ρ reads the
// layer alone on rows h (`layout`), since its sums over parameters would count the v columns.
//
// Training keeps the whole stack in one layout (ModelConfig.layers, PyTorch's names); layerView gives the kernels
// layer k of it as one cell over the same buffers.
import { buildLayout, getTensorSpec, TensorViews, type ParamLayout } from './params.ts';
import { isTorchCell, modelLayers, readoutOutputs, type TorchCellKind } from './cells.ts';
import { READOUT_BIAS, READOUT_WEIGHT, torchLayout, torchParams, type TorchModelConfig, type TorchParams } from './f64/torch/config.ts';

export interface StackLayer {
  index: number;
  /** The layer alone: D_k inputs (SPEC §13 names `weight_ih_l0` …, readout out.*). */
  layout: ParamLayout;
  params: Float64Array;
  /** What the GPU stage runs: for k ≥ 1, rows [h, v] of 2H inputs with weight_ih [W_ih | 0]; layer 0 as `layout`. */
  runLayout: ParamLayout;
  runParams: Float64Array;
}

/** lwin's cell for a PyTorch layer type (an nn.RNN's nonlinearity picks rnn or rnn_relu). */
export function torchCellKind(config: Pick<TorchModelConfig, 'cell' | 'nonlinearity'>): TorchCellKind {
  return config.cell === 'rnn' ? (config.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn') : config.cell;
}

function layerLayout(config: TorchModelConfig, inputs: number): ParamLayout {
  return buildLayout({ cell: torchCellKind(config), inputSize: inputs, hiddenSize: config.hiddenSize, layernorm: false, ...(config.outputs !== 1 && { outputs: config.outputs }) });
}

/**
 * Layer k's weight_ih [rows, D_k] of a stack-shaped array into `values` (a flat array in `layout`, whose weight_ih
 * rows may be wider), each row starting at column `column`.
 */
export function placeWeightIh(torch: TorchParams, k: number, layout: ParamLayout, values: Float64Array, column = 0): void {
  const source = torch.layers[k]!.weightIh;
  const D = torch.layers[k]!.inputSize;
  const target = new TensorViews(layout, values).get('weight_ih_l0');
  const stride = layout.config.inputSize;
  for (let r = 0; r < source.length / D; r++) target.set(source.subarray(r * D, (r + 1) * D), r * stride + column);
}

/**
 * Layer k's tensors of a stack-shaped flat array (parameters, η_p, or a direction) in a layer layout: its own four
 * as `…_l0` (weight_ih in the first D_k columns of a wider row, the rest 0), the readout. bias=False: the biases
 * stay 0 (the same forward as none).
 */
export function layerValues(torch: TorchParams, k: number, layout: ParamLayout): Float64Array {
  const values = new Float64Array(layout.totalSize);
  const views = new TensorViews(layout, values);
  const layer = torch.layers[k]!;
  placeWeightIh(torch, k, layout, values);
  views.get('weight_hh_l0').set(layer.weightHh);
  if (layer.biasIh) views.get('bias_ih_l0').set(layer.biasIh);
  if (layer.biasHh) views.get('bias_hh_l0').set(layer.biasHh);
  views.get(READOUT_WEIGHT).set(torch.readout.weight);
  if (torch.readout.bias && views.has(READOUT_BIAS)) views.get(READOUT_BIAS).set(torch.readout.bias);
  return values;
}

/** The layers of a stack as the GPU runs them. */
export function stackLayers(torch: TorchParams): StackLayer[] {
  const { config } = torch.layout;
  return torch.layers.map((layer, k) => {
    const layout = layerLayout(config, layer.inputSize);
    const params = layerValues(torch, k, layout);
    if (k === 0) return { index: k, layout, params, runLayout: layout, runParams: params };
    const runLayout = layerLayout(config, 2 * config.hiddenSize);
    return { index: k, layout, params, runLayout, runParams: layerValues(torch, k, runLayout) };
  });
}

/**
 * Layer k of a stacked layout (ModelConfig.layers > 1) as a single-layer cell over the same flat array: its tensors
 * under layer 0's names (`weight_ih_l0` …) at layer k's offsets, the readout at its own, D = H above layer 0. The
 * kernels take offsets as uniforms, so they run on the stack's parameter and gradient buffers through it.
 */
export function layerView(layout: ParamLayout, k: number): ParamLayout {
  const { config } = layout;
  const L = modelLayers(config);
  if (!Number.isInteger(k) || k < 0 || k >= L) throw new RangeError(`layer ${k} of a ${L}-layer model`);
  if (L === 1) return layout;
  const { layers: _layers, ...single } = config;
  const own = buildLayout({ ...single, inputSize: k === 0 ? config.inputSize : config.hiddenSize });
  const tensors = own.tensors.map((t) => ({ ...t, offset: getTensorSpec(layout, t.name.replace(/_l0$/, `_l${k}`)).offset }));
  return { ...own, tensors, trainableSize: layout.trainableSize, totalSize: layout.totalSize, trainableCount: layout.trainableCount };
}

/** A model of PyTorch's layers in lwin's layout (ModelConfig.layers, PyTorch's names) as the float64 twin's parameters. */
export function torchParamsOf(layout: ParamLayout, params: ArrayLike<number>): TorchParams {
  const { cell, inputSize, hiddenSize } = layout.config;
  if (!isTorchCell(cell)) throw new Error(`${cell} is not one of PyTorch's layers (SPEC §13)`);
  const torch = torchParams(torchLayout({
    cell: cell === 'rnn_relu' ? 'rnn' : cell, nonlinearity: cell === 'rnn_relu' ? 'relu' : 'tanh', layers: modelLayers(layout.config),
    inputSize, hiddenSize, bias: true, outputs: readoutOutputs(layout.config), readoutBias: true,
  }));
  for (const t of torch.layout.tensors) {
    const spec = getTensorSpec(layout, t.name);
    for (let i = 0; i < t.size; i++) torch.data[t.offset + i] = params[spec.offset + i]!;
  }
  return torch;
}
