// Full one-step Jacobians of a PyTorch layer (SPEC §6, §13), assembled column by column from the cell's own tangent
// with the parameters fixed, so the formula keeps one home (the cells' tangent) and the matrices are exact.
import type { RecurrentState } from '../types.ts';
import type { TorchLayerParams } from './config.ts';
import type { TorchCellReference, TorchStepRecord } from './types.ts';

/**
 * ∂(h'[, c'])/∂(h[, c]) [S·H, S·H] row-major (row = output, column = input), S = 2 for torch_lstm with the state
 * stacked as (h, c), as exact transport's LSTM product (its ∂h_t/∂c_{t-ℓ} block is rows 0…H-1, columns H…2H-1).
 */
export function torchStateJacobian(cell: TorchCellReference, p: TorchLayerParams, rec: TorchStepRecord): Float64Array {
  const hidden = rec.prev.h.length;
  const width = rec.prev.c ? 2 * hidden : hidden;
  const jacobian = new Float64Array(width * width);
  for (let j = 0; j < width; j++) {
    const unit: RecurrentState = { h: new Float64Array(hidden), ...(rec.prev.c ? { c: new Float64Array(hidden) } : {}) };
    if (j < hidden) unit.h[j] = 1;
    else unit.c![j - hidden] = 1;
    const out = cell.tangent(p, null, rec, unit, null);
    for (let q = 0; q < hidden; q++) jacobian[q * width + j] = out.h[q]!;
    if (out.c) for (let q = 0; q < hidden; q++) jacobian[(hidden + q) * width + j] = out.c[q]!;
  }
  return jacobian;
}

/** ∂h'/∂x [H, D_k] at fixed previous state: the same-step input Jacobian that chains layer errors down a stack. */
export function torchInputJacobian(cell: TorchCellReference, p: TorchLayerParams, rec: TorchStepRecord): Float64Array {
  const hidden = rec.prev.h.length;
  const inputs = rec.x.length;
  const zero: RecurrentState = { h: new Float64Array(hidden), ...(rec.prev.c ? { c: new Float64Array(hidden) } : {}) };
  const jacobian = new Float64Array(hidden * inputs);
  for (let j = 0; j < inputs; j++) {
    const unit = new Float64Array(inputs);
    unit[j] = 1;
    const out = cell.tangent(p, null, rec, zero, unit);
    for (let q = 0; q < hidden; q++) jacobian[q * inputs + j] = out.h[q]!;
  }
  return jacobian;
}
