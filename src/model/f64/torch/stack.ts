// A stack of L PyTorch recurrent layers over a batch (SPEC §13): layer 0 reads x, layer k > 0 reads layer k-1's h
// at the same step; every layer starts from the zero state. Forward, BPTT gradients of every parameter, forward-mode
// tangents v^{(k)}_t, per-layer diagonal terms, and the per-layer instantaneous errors δ^{(k)}_t.
import type { FloatArray } from '../../params.ts';
import type { RecurrentState } from '../types.ts';
import { describeTorchConfig, torchParams, type TorchParams } from './config.ts';
import { outputErrors, readoutForward, torchLoss, type LossResult, type TorchTargets } from './loss.ts';
import { torchCellReference } from './registry.ts';
import type { TorchCellReference, TorchStepRecord } from './types.ts';

export interface TorchBatch {
  /** X [B,T,D], row-major. */
  x: FloatArray;
  batch: number;
  steps: number;
}

export interface TorchForward {
  batch: number;
  steps: number;
  /** records[k][b][t]: layer k's step t of sequence b. */
  records: TorchStepRecord[][][];
  /** Per layer, h^{(k)} [B,T,H]. */
  hidden: Float64Array[];
  /** Per layer, c^{(k)} [B,T,H] (torch_lstm), else null. */
  cellStates: Float64Array[] | null;
  /** h_n [L,B,H] and c_n [L,B,H] (torch_lstm, else null), as PyTorch returns them. */
  hN: Float64Array;
  cN: Float64Array | null;
  /** ŷ [B,T,K]. */
  yHat: Float64Array;
}

export function cellOf(params: TorchParams): TorchCellReference {
  return torchCellReference(params.layout.config.cell, params.layout.config.nonlinearity);
}

function zeroState(params: TorchParams): RecurrentState {
  const { hiddenSize, cell } = params.layout.config;
  return cell === 'torch_lstm' ? { h: new Float64Array(hiddenSize), c: new Float64Array(hiddenSize) } : { h: new Float64Array(hiddenSize) };
}

export function torchForward(params: TorchParams, data: TorchBatch): TorchForward {
  const { config } = params.layout;
  const { batch, steps } = data;
  const hidden = config.hiddenSize;
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(steps) || steps < 1) throw new Error(`batch and steps must be positive integers, got B=${batch}, T=${steps}`);
  if (data.x.length !== batch * steps * config.inputSize) {
    throw new Error(`X has ${data.x.length} values; [B,T,D] = [${batch},${steps},${config.inputSize}] needs ${batch * steps * config.inputSize} for the ${describeTorchConfig(config)} model`);
  }
  const cell = cellOf(params);
  const lstm = config.cell === 'torch_lstm';
  const records: TorchStepRecord[][][] = [];
  const hiddenStates: Float64Array[] = [];
  const cellStates: Float64Array[] = [];
  const hN = new Float64Array(config.layers * batch * hidden);
  const cN = lstm ? new Float64Array(config.layers * batch * hidden) : null;
  let input = Float64Array.from(data.x);
  for (let k = 0; k < config.layers; k++) {
    const p = params.layers[k]!;
    const width = p.inputSize;
    const h = new Float64Array(batch * steps * hidden);
    const c = new Float64Array(lstm ? batch * steps * hidden : 0);
    const layerRecords: TorchStepRecord[][] = [];
    for (let b = 0; b < batch; b++) {
      let state = zeroState(params);
      const sequence: TorchStepRecord[] = [];
      for (let t = 0; t < steps; t++) {
        const row = b * steps + t;
        const rec = cell.step(p, input.slice(row * width, (row + 1) * width), state);
        sequence.push(rec);
        state = rec.next;
        h.set(state.h, row * hidden);
        if (state.c) c.set(state.c, row * hidden);
      }
      hN.set(state.h, (k * batch + b) * hidden);
      if (cN && state.c) cN.set(state.c, (k * batch + b) * hidden);
      layerRecords.push(sequence);
    }
    records.push(layerRecords);
    hiddenStates.push(h);
    if (lstm) cellStates.push(c);
    input = h;
  }
  const yHat = readoutForward(params, hiddenStates[config.layers - 1]!, batch * steps);
  return { batch, steps, records, hidden: hiddenStates, cellStates: lstm ? cellStates : null, hN, cN, yHat };
}

export function torchForwardLoss(params: TorchParams, forward: TorchForward, targets: TorchTargets): LossResult {
  return torchLoss(forward.yHat, targets, forward.batch, forward.steps, params.layout.config.outputs);
}

export interface TorchGradients {
  loss: LossResult;
  /** ∂L/∂θ in the same layout as the parameters. */
  grad: TorchParams;
  forward: TorchForward;
}

/** Full BPTT through the readout and every layer, top down (each layer's input adjoint feeds the layer below). */
export function torchGradients(params: TorchParams, data: TorchBatch, targets: TorchTargets): TorchGradients {
  const { config } = params.layout;
  const forward = torchForward(params, data);
  const loss = torchForwardLoss(params, forward, targets);
  const grad = torchParams(params.layout);
  const { batch, steps } = forward;
  const hidden = config.hiddenSize;
  const rows = batch * steps;
  const top = forward.hidden[config.layers - 1]!;
  // Readout: ∂L/∂W_out = Σ dŷ hᵀ, ∂L/∂b_out = Σ dŷ, and ∂L/∂h^{(L-1)} = W_outᵀ dŷ.
  for (let row = 0; row < rows; row++) {
    for (let o = 0; o < config.outputs; o++) {
      const d = loss.dYHat[row * config.outputs + o]!;
      if (grad.readout.bias) grad.readout.bias[o] = grad.readout.bias[o]! + d;
      for (let q = 0; q < hidden; q++) grad.readout.weight[o * hidden + q] = grad.readout.weight[o * hidden + q]! + d * top[row * hidden + q]!;
    }
  }
  let dH = outputErrors(params, loss.dYHat, rows);
  const cell = cellOf(params);
  for (let k = config.layers - 1; k >= 0; k--) {
    const p = params.layers[k]!;
    const dBelow = new Float64Array(k > 0 ? rows * hidden : 0);
    for (let b = 0; b < batch; b++) {
      let adjoint = zeroState(params);
      for (let t = steps - 1; t >= 0; t--) {
        const row = b * steps + t;
        adjoint.h = adjoint.h.map((v, q) => v + dH[row * hidden + q]!);
        const back = cell.backward(p, grad.layers[k]!, forward.records[k]![b]![t]!, adjoint);
        adjoint = back.state;
        if (k > 0) dBelow.set(back.x, row * hidden);
      }
    }
    dH = dBelow;
  }
  return { loss, grad, forward };
}

/**
 * v^{(k)}_t = (dh^{(k)}_t/dθ)[dir] per layer [B,T,H] (SPEC §7, §13): the JVP through all layers below, exact
 * (full Jacobians). `inputTangent` ẋ [B,T,D] adds the input's own perturbation (SPEC §12's lag recovery perturbs x
 * with dir = null). `cell` holds the c tangents of torch_lstm, else null.
 */
export function torchTangents(
  params: TorchParams, forward: TorchForward, dir: TorchParams | null, inputTangent: Float64Array | null = null,
): { hidden: Float64Array[]; cell: Float64Array[] | null } {
  const { config } = params.layout;
  const { batch, steps } = forward;
  const hidden = config.hiddenSize;
  const cell = cellOf(params);
  const out: Float64Array[] = [];
  const outCell: Float64Array[] = [];
  if (inputTangent && inputTangent.length !== batch * steps * config.inputSize) {
    throw new Error(`input tangent has ${inputTangent.length} values; [B,T,D] = [${batch},${steps},${config.inputSize}] needs ${batch * steps * config.inputSize}`);
  }
  let below: Float64Array | null = inputTangent;
  for (let k = 0; k < config.layers; k++) {
    const width = params.layers[k]!.inputSize;
    const v = new Float64Array(batch * steps * hidden);
    const u = new Float64Array(config.cell === 'torch_lstm' ? batch * steps * hidden : 0);
    for (let b = 0; b < batch; b++) {
      let tangent = zeroState(params);
      for (let t = 0; t < steps; t++) {
        const row = b * steps + t;
        const xDot = below ? below.subarray(row * width, (row + 1) * width) : null;
        tangent = cell.tangent(params.layers[k]!, dir?.layers[k] ?? null, forward.records[k]![b]![t]!, tangent, xDot);
        v.set(tangent.h, row * hidden);
        if (tangent.c) u.set(tangent.c, row * hidden);
      }
    }
    out.push(v);
    outCell.push(u);
    below = v;
  }
  return { hidden: out, cell: config.cell === 'torch_lstm' ? outCell : null };
}

/** SPEC §13 per-step diagonal terms of every layer: terms[k][name] [B,T,H], names cellOf(params).termNames. */
export function torchDiagonalTerms(params: TorchParams, forward: TorchForward): Record<string, Float64Array>[] {
  const cell = cellOf(params);
  const hidden = params.layout.config.hiddenSize;
  return forward.records.map((layer, k) => {
    const terms: Record<string, Float64Array> = Object.fromEntries(cell.termNames.map((n) => [n, new Float64Array(forward.batch * forward.steps * hidden)]));
    layer.forEach((sequence, b) => sequence.forEach((rec, t) => {
      const values = cell.diagonalTerms(params.layers[k]!, rec);
      for (const name of cell.termNames) terms[name]!.set(values[name]!, (b * forward.steps + t) * hidden);
    }));
    return terms;
  });
}

/**
 * SPEC §13 instantaneous error per layer [B,T,H]: δ^{(L-1)}_t = δ_t (from the readout, outputErrors) and
 * δ^{(k)}_t = (∂h^{(k+1)}_t/∂h^{(k)}_t)ᵀ δ^{(k+1)}_t through the same-step input Jacobians (no recurrence).
 */
export function layerErrors(params: TorchParams, forward: TorchForward, delta: Float64Array): Float64Array[] {
  const { config } = params.layout;
  const hidden = config.hiddenSize;
  const cell = cellOf(params);
  const errors: Float64Array[] = new Array(config.layers);
  errors[config.layers - 1] = delta;
  for (let k = config.layers - 2; k >= 0; k--) {
    const above = errors[k + 1]!;
    const mine = new Float64Array(above.length);
    forward.records[k + 1]!.forEach((sequence, b) => sequence.forEach((rec, t) => {
      const row = b * forward.steps + t;
      const adjoint: RecurrentState = { h: above.slice(row * hidden, (row + 1) * hidden), ...(rec.prev.c ? { c: new Float64Array(hidden) } : {}) };
      mine.set(cell.backward(params.layers[k + 1]!, null, rec, adjoint).x, row * hidden);
    }));
    errors[k] = mine;
  }
  return errors;
}
