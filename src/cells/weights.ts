// The training kernels' weights by columns (shaders/recurrence/weights.ts): a copy of the flat parameters in which
// every unit-row matrix is stored column-major per block of H rows, so that the threads of a group, one unit each,
// read consecutive words at every step of a dot product. Made once per step from the parameters of that moment.
// A tile may read by rows instead (the parameters as they are; the autotune times both on GPUs), and `LWIN_WEIGHTS=
// rows|columns` (Node; benchmarks) forces one: the results are the same bit for bit, only the memory access differs.
import type { Step } from '../gpu/step.ts';
import type { ParamLayout, TensorSpec } from '../model/params.ts';
import type { RowWeights } from '../../shaders/cells/tile.ts';
import { columnsProgram } from '../../shaders/recurrence/weights.ts';
import { tileFor } from './tiles.ts';
import { envSetting } from '../gpu/runtime.ts';

/** The layout LWIN_WEIGHTS forces on this run, if set (benchmarks: both layouts of the same tile in one run). */
export function forcedRowLayout(): RowWeights['layout'] | undefined {
  const env = envSetting('LWIN_WEIGHTS');
  if (env !== undefined && env !== 'rows' && env !== 'columns') throw new Error(`LWIN_WEIGHTS=${env}: use 'columns' (the default) or 'rows'`);
  return env === 'rows' || env === 'columns' ? env : undefined;
}

/** How the training kernels of `layout` read weights on `device`: LWIN_WEIGHTS, else the tile's choice. */
export function rowLayout(device: GPUDevice, layout: ParamLayout): RowWeights['layout'] {
  const { cell, layernorm, hiddenSize: H } = layout.config;
  return forcedRowLayout() ?? (tileFor(device, cell, layernorm, H).weights === 'rows' ? 'rows' : 'columns');
}

/**
 * The tensors stored by columns: matrices whose rows are units (a multiple of H rows: W, U and PyTorch's stacked
 * weights), which the row helpers read. The readout out.weight [K, H] is read a row at a time and stays as it is;
 * one-row matrices (shared's scalar gate) too, unless H = 1, where by columns is the same memory.
 */
export function columnMatrices(layout: ParamLayout): TensorSpec[] {
  const H = layout.config.hiddenSize;
  return layout.tensors.filter((t) => t.shape.length === 2 && t.name !== 'out.weight' && t.shape[0]! % H === 0);
}

/**
 * The weights buffer of the row helpers for `params` at this point of `step`: a scratch copy by columns, or
 * `params` itself with LWIN_WEIGHTS=rows. Record it again after anything that changes the parameters.
 */
export function recordRowWeights(step: Step, layout: ParamLayout, params: GPUBuffer, label = 'weights/by-columns'): GPUBuffer {
  if (rowLayout(step.device, layout) === 'rows') return params;
  const weights = step.scratch(label, layout.totalSize * 4);
  step.copy(params, 0, weights, 0, layout.totalSize * 4);
  const H = layout.config.hiddenSize;
  for (const t of columnMatrices(layout)) step.run(columnsProgram, { P: params, PT: weights }, { offset: t.offset, R: t.shape[0]!, C: t.shape[1]!, H });
  return weights;
}
