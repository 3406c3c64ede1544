// Stacked PyTorch layers on the GPU (SPEC §13): what flows between layer k and the layer above it.
//   recordStackInputs:  each layer's x, layer k-1's h [B, T, H], by the forwards of the layers below the top.
//   recordInputAdjoint: ∂L/∂x_t of a layer from the pre-activation adjoints its backward kernel wrote.
//   recordLayerErrors:  δ^{(k)}_t = (∂h^{(k+1)}_t/∂h^{(k)}_t)ᵀ δ^{(k+1)}_t, the same-step chain of the diagnostics.
import { isTorchCell, modelLayers, readoutOutputs, stateWidth, TORCH_GATES, type TorchCellKind } from '../model/cells.ts';
import { layerView } from '../model/stack.ts';
import { layerInputProgram } from '../../shaders/recurrence/layer-input.ts';
import type { Step } from '../gpu/step.ts';
import { getTensorSpec, type ParamLayout } from '../model/params.ts';
import { adjointBlocks, backwardProgram, startStateSlots } from '../../shaders/recurrence/backward.ts';
import { inputAdjointProgram } from '../../shaders/recurrence/input-adjoint.ts';
import { NO_SLOT, type RecurrentSizes } from '../../shaders/recurrence/params.ts';
import { STEPS_PER_DISPATCH, checkRecurrentSizes, keptValues, recordForward, tensorOffsets, type KeptValues } from './forward.ts';
import { tileFor } from './tiles.ts';
import { recordRowWeights, rowLayout } from './weights.ts';

/** The cell of a layer that can sit in a stack (PyTorch's layers only: SPEC §13). */
export function stackCell(layout: ParamLayout): TorchCellKind {
  const { cell } = layout.config;
  if (!isTorchCell(cell)) throw new Error(`a stack of layers is PyTorch's rnn, torch_gru or torch_lstm (SPEC §13); ${cell} is one of lwin's single-layer cells`);
  return cell;
}

export interface InputAdjointCall {
  layout: ParamLayout;
  params: GPUBuffer;
  /** The backward kernel's pre-activation adjoints [B, slots, blocks, H], slot 0 at step `storeFrom`. */
  deltas: GPUBuffer;
  slots: number;
  storeFrom: number;
  batch: number;
  steps: number;
  /** ∂L/∂x [B, T, width] for the steps `range`. */
  dx: GPUBuffer;
  /** Input columns written (default D): the rest of D are not the layer below's h. */
  width?: number;
  range: [number, number];
}

/** Records ∂L/∂x_t = Σ_g W_ih[g]ᵀ da_{g,t} for the steps of `range` (shaders/recurrence/input-adjoint.ts). */
export function recordInputAdjoint(step: Step, call: InputAdjointCall): void {
  const { layout } = call;
  const cell = stackCell(layout);
  const { hiddenSize: H, inputSize: D } = layout.config;
  const width = call.width ?? D;
  if (width > D) throw new RangeError(`input adjoint: width ${width} exceeds the layer's D=${D}`);
  const [from, to] = call.range;
  step.run(inputAdjointProgram, { P: call.params, deltas: call.deltas, dx: call.dx }, {
    batch: call.batch, T: call.steps, t0: from, steps: to - from, storeFrom: call.storeFrom, slots: call.slots, D, width, H,
    blocks: adjointBlocks(cell).length, gates: TORCH_GATES[cell].length, weightIh: getTensorSpec(layout, 'weight_ih_l0').offset,
  });
}

export interface LayerErrorsCall {
  /** The layer above (k+1): its layout and parameters, its input x [B, T, D] (layer k's h) and its states. */
  layout: ParamLayout;
  params: GPUBuffer;
  x: GPUBuffer;
  /** Its states after every step, [T, B, W, H] (recordForward's `stored` with slots T, every 1, from 0). */
  states: GPUBuffer;
  batch: number;
  steps: number;
  /** δ^{(k+1)} [B, T, H] in; δ^{(k)} [B, T, width] out (width: the columns of x that are layer k's h). */
  above: GPUBuffer;
  below: GPUBuffer;
  width: number;
  /** Workspace: [B, T, blocks, H] and [B, W, H] floats (layerErrorsWorkspace). */
  deltas: GPUBuffer;
  adj: GPUBuffer;
}

/**
 * Floats of LayerErrorsCall's workspace per sequence: deltas, and adj (the adjoint the backward carries; nothing,
 * here, but it binds it). PyTorch's layers keep no operands (operandNames): there is no `ops`.
 */
export function layerErrorsWorkspace(cell: TorchCellKind, steps: number, hidden: number): { deltas: number; adj: number } {
  return { deltas: steps * adjointBlocks(cell).length * hidden, adj: stateWidth(cell) * hidden };
}

/**
 * SPEC §13's instantaneous error of layer k: the backward kernel of layer k+1 with dy = δ^{(k+1)} [B, T, H] and
 * nothing carried between steps, then its input adjoint. The layer's own formulas (one home: shaders/cells/torch.ts).
 */
export function recordLayerErrors(step: Step, call: LayerErrorsCall): void {
  const { layout, batch: B, steps: T } = call;
  checkRecurrentSizes(layout);
  const cell = stackCell(layout);
  const { hiddenSize: H, inputSize: D } = layout.config;
  const program = backwardProgram({
    cell, layernorm: false, tile: tileFor(step.device, cell, false, H, D), outputs: readoutOutputs(layout.config), rows: rowLayout(step.device, layout), errors: 'hidden', local: true,
  });
  const weights = recordRowWeights(step, layout, call.params);
  step.clear(call.adj);
  const buffers = { P: call.params, PT: weights, x: call.x, dy: call.above, states: call.states, adj: call.adj, deltas: call.deltas };
  const offsets = tensorOffsets(layout);
  for (let end = T; end > 0; end -= STEPS_PER_DISPATCH) {
    const t0 = Math.max(0, end - STEPS_PER_DISPATCH);
    const sizes: RecurrentSizes = { batch: B, T, D, H, t0, steps: end - t0, slots: T, storeEvery: 1, storeFrom: 0, startSlot: NO_SLOT };
    step.run(program, buffers, { ...sizes, ...offsets });
  }
  recordInputAdjoint(step, { layout, params: call.params, deltas: call.deltas, slots: T, storeFrom: 0, batch: B, steps: T, dx: call.below, width: call.width, range: [0, T] });
}

/**
 * A lower layer's states [slots, B, W, H] (after each of the T steps; where it fits a binding, BPTT's slot for the
 * state before step 0 after them: startStateSlots), and the values its forward kept for BPTT to replay, if it kept them.
 */
export interface KeptStates {
  buffer: GPUBuffer;
  slots: number;
  kept?: KeptValues;
}

/**
 * The input of every layer of `layout` for one batch: index 0 is `x`; index k > 0 is layer k-1's h [B, T, H] in a
 * scratch buffer, from that layer's forward (its states at every step, then layer_input's sequence-major copy).
 * One layer: [x]. `states`, when given, receives each lower layer's states (BPTT's stored mode reuses them instead
 * of running that forward again), with the values its backward replays where the adapter has room for them
 * (keptValues).
 */
export function recordStackInputs(step: Step, call: { layout: ParamLayout; params: GPUBuffer; x: GPUBuffer; batch: number; steps: number }, states?: KeptStates[]): GPUBuffer[] {
  const { batch: B, steps: T } = call;
  const inputs = [call.x];
  for (let k = 1; k < modelLayers(call.layout.config); k++) {
    const layout = layerView(call.layout, k - 1);
    const { cell, hiddenSize: H } = layout.config;
    const W = stateWidth(cell);
    const bytes = T * B * W * H * 4;
    if (bytes > step.maxBindingBytes) {
      throw new RangeError(`a stack's layer ${k - 1} keeps its states at every step for the layer above: ${bytes} bytes at B=${B}, T=${T}, H=${H}, over the ${step.maxBindingBytes} this adapter binds; use a smaller batch (at most ${Math.floor(step.maxBindingBytes / (T * W * H * 4))} sequences)`);
    }
    const kept = states && keptValues(step, layout, B, T, 0, 'stack/kept');
    const state = step.scratch('stack/state', B * W * H * 4);
    const slots = states && startStateSlots(T) * B * W * H * 4 <= step.maxBindingBytes ? startStateSlots(T) : T;
    const stored = step.scratch('stack/states', slots * B * W * H * 4);
    step.clear(state);
    const yhat = step.scratch('stack/yhat-unread', B * T * readoutOutputs(layout.config) * 4);
    recordForward(step, { layout, params: call.params, x: inputs[k - 1]!, batch: B, steps: T, state, yhat, stored: { buffer: stored, slots: T, every: 1, from: 0 }, kept });
    const h = step.scratch('stack/h', B * T * H * 4);
    step.run(layerInputProgram, { states: stored, v: stored, x: h }, { batch: B, T, H, W, tangent: 0 });
    inputs.push(h);
    states?.push({ buffer: stored, slots, kept });
  }
  return inputs;
}
