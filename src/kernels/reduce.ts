// Host wrapper of the segmented compensated reduction (shaders/reduce.ts).
import type { Step } from '../gpu/step.ts';
import type { KernelProgram } from '../gpu/pipelines.ts';
import { REDUCE_PER_THREAD, REDUCE_WORKGROUP, ReduceParams, reduceShader, reduceVariantKey, type ReduceVariant } from '../../shaders/reduce.ts';
import { foldRows } from './grid.ts';

const programs = new Map<string, KernelProgram>();

function reduceProgram(variant: ReduceVariant): KernelProgram {
  const variantKey = reduceVariantKey(variant);
  let program = programs.get(variantKey);
  if (!program) {
    program = { name: 'segmented_reduce', variantKey, source: () => reduceShader(variant) };
    programs.set(variantKey, program);
  }
  return program;
}

export const REDUCE_CHUNK = REDUCE_WORKGROUP * REDUCE_PER_THREAD;

export interface SegmentedReduceOutput {
  /** [segments] sums. */
  sums: GPUBuffer;
  /** [segments] means. */
  means: GPUBuffer;
}

/**
 * Records sums and means over the last axis of `input` ([segments, length] f32) into `out`.
 * Empty segments give sum 0 and mean NaN (0/0, as numpy). Long segments take several passes (one more per factor of REDUCE_CHUNK in length); intermediate pairs
 * live in scratch buffers owned by the step.
 */
export function recordSegmentedReduce(step: Step, input: GPUBuffer, segments: number, length: number, out: SegmentedReduceOutput): void {
  if (segments === 0) return;
  const [y, z] = foldRows(segments, step.maxWorkgroupsPerDimension);
  let source = input;
  let pairsIn = false;
  let width = length;
  for (;;) {
    const chunks = Math.max(1, Math.ceil(width / REDUCE_CHUNK));
    const final = chunks === 1;
    const params = step.uniform('segmented_reduce/params', ReduceParams, { segments, length: width, chunk: REDUCE_CHUNK, chunks, count: length, one: 1 });
    if (final) {
      step.dispatch(reduceProgram({ pairsIn, final }), [source, out.sums, out.means, params], [1, y, z]);
      return;
    }
    const partials = step.scratch('segmented_reduce/partials', segments * chunks * 8);
    step.dispatch(reduceProgram({ pairsIn, final }), [source, partials, params], [chunks, y, z]);
    source = partials;
    pairsIn = true;
    width = chunks;
  }
}
