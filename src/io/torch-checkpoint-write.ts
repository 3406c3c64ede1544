// Writing a PyTorch stock-layer model back under PyTorch's names (SPEC §13), so that
// `model.load_state_dict(safetensors.torch.load_file(path))` loads it into the user's module as it is.
import { writeNamedTensors, LWIN_VERSION } from './safetensors.ts';
import { torchParams, READOUT_BIAS, READOUT_WEIGHT, type TorchParams } from '../model/f64/torch/config.ts';

export interface TorchWriteOptions {
  /** The recurrent layer's prefix, '' or ending in '.'; default 'rnn.'. */
  prefix?: string;
  /** The readout module's name (its tensors are `<readout>.weight`, `<readout>.bias`); default 'head'. */
  readout?: string;
  dtype?: 'F32' | 'F64';
  /** Extra `__metadata__` entries; lwin's own keys win on a clash. */
  metadata?: Record<string, string>;
}

/**
 * The state_dict of `params` as safetensors, tensors in PyTorch's order. Biases are written as held: both for every
 * cell (torch_gru's b_hn is not summable). A model that keeps torch_lstm's one summed bias passes
 * `lstmSummedBias(params)`, which writes bias_ih = b_ih + b_hh and bias_hh = 0 (SPEC §13).
 */
export function writeTorchCheckpoint(params: TorchParams, options: TorchWriteOptions = {}): Uint8Array {
  const prefix = options.prefix ?? 'rnn.';
  if (prefix !== '' && !prefix.endsWith('.')) throw new Error(`prefix "${prefix}" must be empty or end in "." (e.g. "rnn.")`);
  const readout = options.readout ?? 'head';
  const { config } = params.layout;
  const name = (n: string) => (n === READOUT_WEIGHT ? `${readout}.weight` : n === READOUT_BIAS ? `${readout}.bias` : prefix + n);
  const tensors = params.layout.tensors.map((t) => ({ name: name(t.name), shape: t.shape, data: params.data.subarray(t.offset, t.offset + t.size) }));
  const metadata = {
    ...options.metadata,
    cell: config.cell,
    nonlinearity: config.nonlinearity,
    layers: String(config.layers),
    lwin_version: LWIN_VERSION,
  };
  return writeNamedTensors(tensors, metadata, options.dtype);
}

/** torch_lstm parameters with b_ih ← b_ih + b_hh and b_hh ← 0: the same model (only the sum enters the gates). */
export function lstmSummedBias(params: TorchParams): TorchParams {
  if (params.layout.config.cell !== 'torch_lstm') throw new Error(`lstmSummedBias applies to torch_lstm; ${params.layout.config.cell}'s biases are kept apart`);
  const out = torchParams(params.layout, Float64Array.from(params.data));
  for (const layer of out.layers) {
    if (!layer.biasIh || !layer.biasHh) continue;
    for (let i = 0; i < layer.biasIh.length; i++) layer.biasIh[i] = layer.biasIh[i]! + layer.biasHh[i]!;
    layer.biasHh.fill(0);
  }
  return out;
}
