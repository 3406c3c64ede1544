// A user's PyTorch checkpoint (torch-checkpoint.ts) as a model the GPU diagnoses (SPEC §13): which files are one,
// and the cell, layout and flat parameters of its rnn, rnn_relu, torch_gru or torch_lstm layers (L of them).
//
// A file is read as a PyTorch checkpoint when it is a pickle (refused there, with the conversion), or when it has a
// tensor named `…weight_ih_l0` and no lwin model metadata (`cell` without `layers`); lwin's own files go through
// safetensors.ts.
import { buildLayout, TensorViews, type ParamLayout } from '../model/params.ts';
import type { TorchCellKind } from '../model/cells.ts';
import { READOUT_BIAS, READOUT_WEIGHT } from '../model/f64/torch/config.ts';
import { torchCellKind } from '../model/stack.ts';
import { parseSafetensorsHeader, readNamedTensors, writeNamedTensors } from './safetensors.ts';
import { SafetensorsError } from './safetensors-format.ts';
import { hasPickleExtension, type TorchCheckpoint } from './torch-checkpoint.ts';

/** Whether `bytes` should be read by the PyTorch checkpoint reader rather than as lwin's own weights. */
export function isTorchCheckpoint(bytes: Uint8Array, source: string): boolean {
  if (hasPickleExtension(source)) return true;
  if (bytes.length >= 9 && bytes[8] !== 0x7b && ((bytes[0] === 0x50 && bytes[1] === 0x4b) || bytes[0] === 0x80)) return true; // zip or pickle
  let header;
  try {
    header = parseSafetensorsHeader(bytes, source);
  } catch {
    return false; // safetensors.ts reports what is wrong with the file
  }
  // lwin's own files record the cell with D and H; a stack (lwin's, or torch-checkpoint-write.ts's file) records its
  // layers as well and is read as PyTorch's (safetensors.ts writeMetadata)
  if (header.metadata.cell !== undefined && header.metadata.layers === undefined) return false;
  return [...header.tensors.keys()].some((n) => n === 'weight_ih_l0' || n.endsWith('.weight_ih_l0'));
}

export interface TorchModel {
  layout: ParamLayout;
  params: Float64Array;
}

/**
 * A PyTorch optimizer state saved beside the checkpoint (`<state>.<name as in the checkpoint>`, e.g.
 * `exp_avg_sq.lstm.weight_ih_l0`, `exp_avg_sq.head.weight`) under the names of the model lwin runs
 * (`exp_avg_sq.weight_ih_l0`, `exp_avg_sq.out.weight`), so that train/optimizer-file.ts reads it; PyTorch's `adam`
 * is AdamW's preconditioner (weight decay does not enter η_p).
 */
export function torchOptimizerState(bytes: Uint8Array, ckpt: TorchCheckpoint, source: string): Uint8Array {
  if (!ckpt.config.bias) throw new SafetensorsError(`${source}: ρ needs the optimizer state of every trained parameter, and the bias=False model in the checkpoint has none for the biases lwin holds at 0; leave --optimizer-state out`);
  const { metadata, tensors } = readNamedTensors(bytes, source);
  const rename = new Map<string, string>([[ckpt.readout.weight, READOUT_WEIGHT], ...(ckpt.readout.bias ? [[ckpt.readout.bias, READOUT_BIAS] as [string, string]] : [])]);
  const renamed = [...tensors].map(([name, t]) => {
    const dot = name.indexOf('.');
    const [state, param] = [name.slice(0, dot), name.slice(dot + 1)];
    const mine = rename.get(param) ?? (param.startsWith(ckpt.prefix) ? param.slice(ckpt.prefix.length) : param);
    return { name: `${state}.${mine}`, shape: t.shape, data: t.data };
  });
  const optimizer = metadata.optimizer === 'adam' ? 'adamw' : metadata.optimizer;
  return writeNamedTensors(renamed, { ...metadata, ...(optimizer && { optimizer }) }, 'F64');
}

/** The checkpoint's model as one of lwin's cells, its L layers under PyTorch's names (ModelConfig.layers). */
export function torchCheckpointModel(ckpt: TorchCheckpoint): TorchModel {
  const { config } = ckpt;
  const cell: TorchCellKind = torchCellKind(config);
  const layout = buildLayout({
    cell, inputSize: config.inputSize, hiddenSize: config.hiddenSize, layernorm: false, ...(config.outputs !== 1 && { outputs: config.outputs }), ...(config.layers !== 1 && { layers: config.layers }),
  });
  const params = new Float64Array(layout.totalSize);
  const views = new TensorViews(layout, params);
  const byName = new Map(ckpt.layout.tensors.map((t) => [t.name, ckpt.params.data.subarray(t.offset, t.offset + t.size)]));
  for (const t of layout.tensors) {
    const values = byName.get(t.name);
    if (values) views.get(t.name).set(values);
    // out.bias and a bias=False layer's biases absent: 0, the same forward as no bias
    else if (t.name !== READOUT_BIAS && !t.name.startsWith('bias_')) throw new Error(`internal: the checkpoint's layout has no ${t.name}`);
  }
  if (!byName.has(READOUT_WEIGHT)) throw new Error('internal: the checkpoint has no readout weight');
  return { layout, params };
}
