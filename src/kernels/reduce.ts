// Host wrapper of the segmented compensated reduction (shaders/reduce.ts).
import type { Step } from '../gpu/step.ts';
import { REDUCE_PER_THREAD, REDUCE_WORKGROUP, reduceProgram } from '../../shaders/reduce.ts';

export const REDUCE_CHUNK = REDUCE_WORKGROUP * REDUCE_PER_THREAD;

export interface ReducePass {
  /** Values (or pairs) per segment read by this pass. */
  width: number;
  chunks: number;
  lanes: number;
  pairsIn: boolean;
  final: boolean;
  /** Longest chain of sequential adds one thread does, and the tree depth after it (for error bounds). */
  chain: number;
  levels: number;
}

/**
 * How a [segments, length] reduction runs: passes until one chunk per segment remains. Segments shorter than a
 * workgroup's worth share a workgroup, about REDUCE_PER_THREAD values per thread.
 */
export function planSegmentedReduce(length: number, pairsInput = false): ReducePass[] {
  const passes: ReducePass[] = [];
  let width = length;
  let pairsIn = pairsInput;
  for (;;) {
    const chunks = Math.max(1, Math.ceil(width / REDUCE_CHUNK));
    const wanted = Math.ceil(Math.min(width, REDUCE_CHUNK) / REDUCE_PER_THREAD);
    const lanes = Math.min(REDUCE_WORKGROUP, 2 ** Math.ceil(Math.log2(Math.max(1, wanted))));
    const chain = Math.ceil(Math.min(width, REDUCE_CHUNK) / lanes);
    passes.push({ width, chunks, lanes, pairsIn, final: chunks === 1, chain, levels: Math.log2(lanes) });
    if (chunks === 1) return passes;
    width = chunks;
    pairsIn = true;
  }
}

export interface SegmentedReduceOutput {
  /** [segments] sums. */
  sums: GPUBuffer;
  /** [segments] means. */
  means: GPUBuffer;
}

/**
 * Records sums and means over the last axis of `input` ([segments, length] f32, or (hi, lo) pairs of f32 with
 * `pairs`, as compensated partial sums from another kernel) into `out`.
 * Empty segments give sum 0 and mean NaN (0/0, as numpy). Intermediate pairs live in scratch buffers owned by the step.
 */
export function recordSegmentedReduce(
  step: Step,
  input: GPUBuffer,
  segments: number,
  length: number,
  out: SegmentedReduceOutput,
  options: { pairs?: boolean } = {},
): void {
  if (segments === 0) return;
  let source = input;
  for (const pass of planSegmentedReduce(length, options.pairs)) {
    const params = { segments, length: pass.width, chunk: REDUCE_CHUNK, chunks: pass.chunks, lanes: pass.lanes, count: length, one: 1 };
    const program = reduceProgram({ pairsIn: pass.pairsIn, final: pass.final });
    if (pass.final) {
      step.run(program, { src: source, sums: out.sums, means: out.means }, params);
      return;
    }
    const partials = step.scratch('segmented_reduce/partials', segments * pass.chunks * 8);
    step.run(program, { src: source, partials }, params);
    source = partials;
  }
}
