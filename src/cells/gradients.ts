// Weight gradients as batched reductions over the backward pass's per-step adjoints (cuDNN's split: the
// sequential pass produces deltas, the weights' sums are one large reduction). Partials per chunk of rows, then
// a compensated segmented reduction; segments of a checkpointed pass fill further columns, or add into used ones once all are taken.
import type { Step } from '../gpu/step.ts';
import type { ParamLayout } from '../model/params.ts';
import type { CellKind } from '../model/cells.ts';
import { LAYERNORM_PREFIX, TORCH_GATES, isTorchCell, readoutOutputs, stateWidth, type TorchCellKind } from '../model/cells.ts';
import { getTensorSpec } from '../model/params.ts';
import { columnsRows, gradBlock, gradChunks, gradKernel, gradLanes, gradProgram, gradSlices, gradUnroll, type GradRowMap } from '../../shaders/grad.ts';
import { gradPrefetch, gradStagedProgram, stagedShape } from '../../shaders/grad-staged.ts';
import { GATE_BLOCKS, adjointBlocks, operandNames } from '../../shaders/recurrence/backward.ts';
import { recordSegmentedReduce } from '../kernels/reduce.ts';
import { deviceSubgroupSize } from './tiles.ts';

/** Input (W, with bias) and recurrent (U) layer of each gate block. */
const LAYERS: Record<CellKind, Record<string, [string, string]>> = {
  const: { g: ['Wx', 'Wh'] },
  shared: { g: ['Wx', 'Wh'], s: ['Ws', 'Us'] },
  diag: { g: ['Wx', 'Wh'], s: ['Ws', 'Us'] },
  gru: { z: ['Wz', 'Uz'], r: ['Wr', 'Ur'], g: ['Wh', 'Uh'] },
  lstm: { i: ['Wi', 'Ui'], f: ['Wf', 'Uf'], o: ['Wo', 'Uo'], g: ['Wg', 'Ug'] },
  linear: { a: ['Wx', 'Wh'] },
  // PyTorch's layers: their stacked tensors are formed whole (torchGradientTerms), not per gate pair
  rnn: {}, rnn_relu: {}, torch_gru: {}, torch_lstm: {},
};

/** `h` and `h_prev`: the stored states, h_t and h_{t-1}; `ops`: the backward's operands (gru's r ⊙ h_{t-1}). */
type Source = 'deltas' | 'lnsums' | 'dy' | 'x' | 'ops' | 'h' | 'h_prev' | 'ones';
export interface GradientTerm {
  tensor: string;
  /**
   * The adjoint side: rows of `deltas` (offset: a block's first unit), `dy`, or (`lnsums`, offset: a plane) the
   * LayerNorm sums the backward leaves after the blocks in `deltas`, one row per sequence (LN_PLANES).
   */
  a: { source: 'deltas' | 'lnsums' | 'dy'; offset: number };
  v: { source: Exclude<Source, 'deltas' | 'lnsums' | 'dy'>; offset: number };
  R: number;
  C: number;
  /** First row of the tensor this term fills (PyTorch's stacked tensors may take several terms); 0 if absent. */
  row0?: number;
}

/**
 * How each trainable tensor's gradient is formed from the backward pass's buffers. `readout: false` leaves out the
 * readout's (a layer under others in a stack: its dy is ∂L/∂h from above, and the readout is the top layer's).
 */
export function gradientTerms(layout: ParamLayout, options: { readout?: boolean } = {}): GradientTerm[] {
  const { cell, layernorm, hiddenSize: H, inputSize: D } = layout.config;
  const blocks = adjointBlocks(cell);
  const ops = operandNames(cell);
  const terms: GradientTerm[] = isTorchCell(cell) ? torchGradientTerms(cell, blocks, H, D) : [];
  for (const block of isTorchCell(cell) ? [] : GATE_BLOCKS[cell]) {
    const [w, u] = LAYERS[cell][block]!;
    const a = { source: 'deltas' as const, offset: blocks.indexOf(block) * H };
    const R = getTensorSpec(layout, `${w}.weight`).shape[0]!; // 1 for shared's scalar gate
    // U multiplied h_{t-1}, or gru's candidate r ⊙ h_{t-1}
    const v = cell === 'gru' && block === 'g' ? { source: 'ops' as const, offset: ops.indexOf('rh') * H } : { source: 'h_prev' as const, offset: 0 };
    terms.push({ tensor: `${w}.weight`, a, v: { source: 'x', offset: 0 }, R, C: D });
    terms.push({ tensor: `${w}.bias`, a, v: { source: 'ones', offset: 0 }, R, C: 1 });
    terms.push({ tensor: `${u}.weight`, a, v, R, C: H });
  }
  if (layernorm) {
    const prefix = LAYERNORM_PREFIX[cell];
    // Each sequence's totals over its steps, in planes 0 (weight) and 2 (bias): the sum over the B sequences is left.
    for (const [part, plane] of [['weight', 0], ['bias', 2]] as const) {
      terms.push({ tensor: `${prefix}.${part}`, a: { source: 'lnsums', offset: plane }, v: { source: 'ones', offset: 0 }, R: H, C: 1 });
    }
  }
  if (options.readout === false) return terms;
  const K = readoutOutputs(layout.config); // dy is [B, T, K]
  terms.push({ tensor: 'out.weight', a: { source: 'dy', offset: 0 }, v: { source: 'h', offset: 0 }, R: K, C: H });
  terms.push({ tensor: 'out.bias', a: { source: 'dy', offset: 0 }, v: { source: 'ones', offset: 0 }, R: K, C: 1 });
  return terms;
}

/**
 * PyTorch's layer 0 (SPEC §13): weight_ih_l0 [G·H, D] is the adjoint blocks in row order against x, weight_hh_l0
 * the same against h_{t-1}, the biases their sums. torch_gru's hidden n rows take block `m` (r ⊙ ∂L/∂a_n) instead
 * of `n`, so its weight_hh and bias_hh are two terms each (rows r, z, then rows n).
 */
function torchGradientTerms(cell: TorchCellKind, blocks: string[], H: number, D: number): GradientTerm[] {
  const G = TORCH_GATES[cell].length;
  const all = { source: 'deltas' as const, offset: 0 };
  const hPrev = { source: 'h_prev' as const, offset: 0 };
  const ones = { source: 'ones' as const, offset: 0 };
  const x = { source: 'x' as const, offset: 0 };
  const terms: GradientTerm[] = [
    { tensor: 'weight_ih_l0', a: all, v: x, R: G * H, C: D },
    { tensor: 'bias_ih_l0', a: all, v: ones, R: G * H, C: 1 },
  ];
  if (cell !== 'torch_gru') {
    terms.push({ tensor: 'weight_hh_l0', a: all, v: hPrev, R: G * H, C: H }, { tensor: 'bias_hh_l0', a: all, v: ones, R: G * H, C: 1 });
    return terms;
  }
  const m = { source: 'deltas' as const, offset: blocks.indexOf('m') * H };
  terms.push(
    { tensor: 'weight_hh_l0', a: all, v: hPrev, R: 2 * H, C: H },
    { tensor: 'weight_hh_l0', a: m, v: hPrev, R: H, C: H, row0: 2 * H },
    { tensor: 'bias_hh_l0', a: all, v: ones, R: 2 * H, C: 1 },
    { tensor: 'bias_hh_l0', a: m, v: ones, R: H, C: 1, row0: 2 * H },
  );
  return terms;
}

export interface SegmentBuffers {
  x: GPUBuffer;
  dy: GPUBuffer;
  deltas: GPUBuffer;
  /** gru's operands; absent for the other cells (operandNames). */
  ops?: GPUBuffer;
  /** The segment's states [slots + 1, B, W, H]: after each of its steps, then the state before it (startStateSlots). */
  states: GPUBuffer;
}

/**
 * A row map (shaders/grad.ts GradParams): row n of a term's sum is step j = n % rowsPer of sequence n / rowsPer, at
 * row (n / rowsPer)·rowStride + (j = 0 ? first : next + (j - 1)·stepStride) of `width` floats, from float `offset`.
 * This one: consecutive steps from row `base` of each sequence's rows.
 */
function consecutive(rowsPer: number, rowStride: number, base: number, width: number, offset: number): GradRowMap {
  return { rowsPer, rowStride, first: base, next: base + 1, stepStride: 1, width, offset };
}

/** Partial sums of every trainable tensor's gradient, one [R·C, columns] buffer per tensor. */
export class GradientPartials {
  readonly terms: GradientTerm[];
  readonly buffers: GPUBuffer[];

  constructor(
    step: Step,
    readonly layout: ParamLayout,
    readonly columns: number,
    readonly chunksPerSegment: number,
    options: { readout?: boolean } = {},
  ) {
    this.terms = gradientTerms(layout, options);
    this.buffers = this.terms.map((t) => step.scratch(`weight_grad/${t.tensor}${t.row0 ? `@${t.row0}` : ''}`, t.R * t.C * columns * 8));
    for (const buffer of this.buffers) step.clear(buffer);
  }

  /**
   * Partials for a pass of `segments` segments: gradChunks columns (chunks of rows reduced in parallel: 256 on GPUs,
   * 64 on CPU adapters), fewer when the widest tensor's [R·C, columns] pairs would not fit one binding (H = 1024 at
   * WebGPU's default 128 MiB: 16); segments past the columns add into the same ones.
   */
  static plan(step: Step, layout: ParamLayout, segments: number, options: { readout?: boolean } = {}): GradientPartials {
    const widest = Math.max(...gradientTerms(layout, options).map((t) => t.R * t.C));
    const columns = Math.max(1, Math.min(gradChunks(step.softwareAdapter), Math.floor(step.maxBindingBytes / (widest * 8))));
    return new GradientPartials(step, layout, columns, Math.max(1, Math.floor(columns / segments)), options);
  }

  /**
   * Adds the partials of one segment: steps [segStart, segStart + segLen) of `batch` sequences of length T, whose
   * adjoints and operands are stored [B, slots, ·] (slots ≥ segLen) and states [slots + 1, B, W, H], the state
   * before the segment in slot `slots`. The LayerNorm terms, whose sums over the steps the backward left in `deltas`
   * (LN_PLANES), are added once, with the segment from step 0 (the walk's last).
   */
  record(step: Step, b: SegmentBuffers, segment: number, batch: number, T: number, segStart: number, segLen: number, slots: number): void {
    const { cell, hiddenSize: H, inputSize: D } = this.layout.config;
    const blocks = adjointBlocks(cell).length;
    const perSeq = (width: number, offset: number) => consecutive(segLen, T, segStart, width, offset);
    // The states' rows are H floats, (slot·B + b)·W: step j's h in slot j, its h_{t-1} in slot j - 1 or (j = 0) `slots`.
    const W = stateWidth(cell);
    const states = (first: number, next: number, offset: number): GradRowMap => ({ rowsPer: segLen, rowStride: W, first, next, stepStride: batch * W, width: H, offset });
    const maps: Record<Source, (offset: number) => GradRowMap> = {
      deltas: (o) => consecutive(segLen, slots, 0, blocks * H, o),
      lnsums: (plane) => consecutive(batch, batch, 0, H, (batch * slots * blocks + plane * batch) * H),
      ops: (o) => consecutive(segLen, slots, 0, operandNames(cell).length * H, o),
      h: (o) => states(0, batch * W, o),
      h_prev: (o) => states(slots * batch * W, 0, o),
      x: (o) => perSeq(D, o),
      dy: (o) => perSeq(readoutOutputs(this.layout.config), o),
      ones: (o) => perSeq(1, o),
    };
    const buffers: Record<Source, GPUBuffer | undefined> = { deltas: b.deltas, lnsums: b.deltas, ops: b.ops, h: b.states, h_prev: b.states, x: b.x, dy: b.dy, ones: undefined };
    this.terms.forEach((term, i) => {
      const sums = term.a.source === 'lnsums';
      if (sums && segStart > 0) return;
      // The LayerNorm terms take every column, whatever the segments: stored and checkpointed give the same bits.
      const rows = sums ? batch : batch * segLen;
      const chunks = sums ? this.columns : this.chunksPerSegment;
      const chunk = Math.ceil(rows / chunks);
      const ones = term.v.source === 'ones';
      const staged = !ones && gradKernel(step.softwareAdapter) === 'staged';
      // A thin term with one row or a few (the readout) runs transposed on the staged kernel: A and V swap sides.
      const shape = staged ? stagedShape(term.R, term.C) : undefined;
      const swap = shape?.transposed === true;
      const [a, v] = swap ? [term.v, term.a] : [term.a, term.v];
      const am = maps[a.source](a.offset);
      const vm = maps[v.source](v.offset);
      const params = {
        rows, R: swap ? term.C : term.R, C: swap ? term.R : term.C, chunk, chunks, chunk0: sums ? 0 : segment * this.chunksPerSegment, columns: this.columns, one: 1,
        aRowsPer: am.rowsPer, aRowStride: am.rowStride, aFirst: am.first, aNext: am.next, aStepStride: am.stepStride, aWidth: am.width, aOffset: am.offset,
        vRowsPer: vm.rowsPer, vRowStride: vm.rowStride, vFirst: vm.first, vNext: vm.next, vStepStride: vm.stepStride, vWidth: vm.width, vOffset: vm.offset,
      };
      const program = shape
        ? gradStagedProgram(gradPrefetch(), shape)
        : gradProgram(ones, gradSlices(step.softwareAdapter), gradUnroll(), gradBlock(step.softwareAdapter), gradLanes(step.softwareAdapter), deviceSubgroupSize(step.device), columnsRows(term.R));
      step.run(program, { A: buffers[a.source], V: buffers[v.source], partials: this.buffers[i]! }, params);
    });
  }

  /** Sums the partials into `grad` (flat, in the layout), which must be cleared beforehand. */
  finish(step: Step, grad: GPUBuffer): void {
    this.terms.forEach((term, i) => {
      const n = term.R * term.C;
      const out = { sums: step.scratch('weight_grad/sums', n * 4), means: step.scratch('weight_grad/means', n * 4) };
      recordSegmentedReduce(step, this.buffers[i]!, n, this.columns, out, { pairs: true });
      step.copy(out.sums, 0, grad, (getTensorSpec(this.layout, term.tensor).offset + (term.row0 ?? 0) * term.C) * 4, n * 4);
    });
  }
}
