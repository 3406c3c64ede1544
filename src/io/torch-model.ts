// A user's PyTorch checkpoint (torch-checkpoint.ts) as a model the GPU diagnoses (SPEC §13): which files are one,
// and the cell, layout and flat parameters of the single-layer cells rnn, rnn_relu, torch_gru and torch_lstm.
//
// A file is read as a PyTorch checkpoint when it is a pickle (refused there, with the conversion), or when it has a
// tensor named `…weight_ih_l0` and no lwin model metadata (`cell` without `layers`); lwin's own files go through
// safetensors.ts. What the GPU stage does not run yet is refused, saying what the file holds and what would work.
import { extname } from 'node:path';
import { buildLayout, TensorViews, type ParamLayout } from '../model/params.ts';
import type { TorchCellKind } from '../model/cells.ts';
import { describeTorchConfig, READOUT_BIAS, READOUT_WEIGHT } from '../model/f64/torch/config.ts';
import { parseSafetensorsHeader } from './safetensors.ts';
import { SafetensorsError } from './safetensors-format.ts';
import type { TorchCheckpoint } from './torch-checkpoint.ts';

/** Whether `bytes` should be read by the PyTorch checkpoint reader rather than as lwin's own weights. */
export function isTorchCheckpoint(bytes: Uint8Array, source: string): boolean {
  if (['.pt', '.pth', '.ckpt', '.bin'].includes(extname(source).toLowerCase())) return true;
  if (bytes.length >= 9 && bytes[8] !== 0x7b && ((bytes[0] === 0x50 && bytes[1] === 0x4b) || bytes[0] === 0x80)) return true; // zip or pickle
  let header;
  try {
    header = parseSafetensorsHeader(bytes, source);
  } catch {
    return false; // safetensors.ts reports what is wrong with the file
  }
  // lwin's own files record the cell with D and H; torch-checkpoint-write.ts's record the layers instead
  if (header.metadata.cell !== undefined && header.metadata.layers === undefined) return false;
  return [...header.tensors.keys()].some((n) => n === 'weight_ih_l0' || n.endsWith('.weight_ih_l0'));
}

export interface TorchModel {
  layout: ParamLayout;
  params: Float64Array;
}

/** The checkpoint's model as one of lwin's cells; refused (naming the file's model and the limit) where the GPU stage cannot run it yet. */
export function torchCheckpointModel(ckpt: TorchCheckpoint, source: string): TorchModel {
  const { config } = ckpt;
  const what = `${source} holds ${describeTorchConfig(config)} (prefix "${ckpt.prefix}", readout ${ckpt.readout.weight})`;
  if (config.layers !== 1) {
    throw new SafetensorsError(`${what}; lwin diagnose runs single-layer PyTorch models so far (stacked layers are SPEC §13's next step): diagnose layer 0 alone by exporting a 1-layer model`);
  }
  if (!config.bias) {
    throw new SafetensorsError(`${what}; lwin diagnose needs bias_ih_l0 and bias_hh_l0 so far (bias=False layers are SPEC §13's next step)`);
  }
  const cell: TorchCellKind = config.cell === 'rnn' ? (config.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn') : config.cell;
  const layout = buildLayout({ cell, inputSize: config.inputSize, hiddenSize: config.hiddenSize, layernorm: false, ...(config.outputs !== 1 && { outputs: config.outputs }) });
  const params = new Float64Array(layout.totalSize);
  const views = new TensorViews(layout, params);
  const byName = new Map(ckpt.layout.tensors.map((t) => [t.name, ckpt.params.data.subarray(t.offset, t.offset + t.size)]));
  for (const t of layout.tensors) {
    const values = byName.get(t.name);
    if (values) views.get(t.name).set(values);
    else if (t.name !== READOUT_BIAS) throw new Error(`internal: the checkpoint's layout has no ${t.name}`); // out.bias absent: 0, as no bias
  }
  if (!byName.has(READOUT_WEIGHT)) throw new Error('internal: the checkpoint has no readout weight');
  return { layout, params };
}
