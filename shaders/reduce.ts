// Segmented sum and mean over the last axis of a [segments, length] array, with compensated f32 accumulation.
// `lanes` threads share a segment (a power of two up to the workgroup size), so short segments pack many to a
// workgroup and long ones use the whole workgroup. A long segment is cut into chunks, one workgroup each, that
// reduce to unevaluated (hi, lo) pairs; passes repeat over the pairs until one chunk remains, and the last pass
// writes sum = hi + lo and mean = sum / length. The host plans the passes (planSegmentedReduce).
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type Program, type ShaderHead } from '../src/gpu/program.ts';
import { foldRows } from '../src/gpu/grid.ts';
import { compensatedSum, foldedRow } from './common.ts';

export const ReduceParams = d.struct({
  segments: d.u32,
  length: d.u32, // elements (or pairs) per segment in this pass's input
  chunk: d.u32, // elements per workgroup and segment
  chunks: d.u32, // chunks per segment = ceil(length / chunk); the width of this pass's output
  lanes: d.u32, // threads per segment, a power of two dividing the workgroup size
  count: d.f32, // original length, for the mean
  one: d.f32, // always 1.0: keeps the compiler from reassociating the compensated sums (shaders/common.ts)
});

export interface ReduceVariant {
  /** Input holds (hi, lo) pairs from an earlier pass instead of plain f32 values. */
  pairsIn: boolean;
  /** Last pass: write sums and means instead of pairs. */
  final: boolean;
}

export const REDUCE_WORKGROUP = 256;
/** Values each thread accumulates per pass before the tree; sets the chunk length. */
export const REDUCE_PER_THREAD = 16;

export function reduceVariantKey(v: ReduceVariant): string {
  return `${v.pairsIn ? 'pairs' : 'f32'}${v.final ? ',final' : ''}`;
}

/** One pass: x is the chunk within a segment, (y, z) the groups of WG / lanes segments, folded. */
export function reduceProgram(v: ReduceVariant): Program<typeof ReduceParams> {
  return defineProgram({
    name: 'segmented_reduce',
    variantKey: reduceVariantKey(v),
    bindings: [
      { name: 'src', access: 'read', type: v.pairsIn ? 'vec2f' : 'f32' },
      ...(v.final
        ? ([{ name: 'sums', access: 'read_write', type: 'f32' }, { name: 'means', access: 'read_write', type: 'f32' }] as const)
        : ([{ name: 'partials', access: 'read_write', type: 'vec2f' }] as const)),
    ],
    uniform: { name: 'params', struct: 'ReduceParams', schema: ReduceParams },
    workgroupSize: [REDUCE_WORKGROUP],
    dispatch: (p, limits) => [p.chunks, ...foldRows(Math.ceil(p.segments / (REDUCE_WORKGROUP / p.lanes)), limits.maxWorkgroupsPerDimension)],
    shader: (head) => reduceShader(v, head),
  });
}

function reduceShader(v: ReduceVariant, head: ShaderHead): string {
  return wgsl`
${head.declarations}
${compensatedSum('params.one')}
${foldedRow}

const WG: u32 = ${head.threads}u;
var<workgroup> scratch: array<vec2f, WG>;

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  // x: chunk within the segment; (y, z): the group of WG / lanes segments, folded past the per-dimension limit.
  let lanes = params.lanes;
  let lane = lid.x % lanes;
  let segment = folded_row(wg, nwg) * (WG / lanes) + lid.x / lanes;
  let live = segment < params.segments; // threads past the last segment still take part in the barriers
  let start = wg.x * params.chunk;
  let end = select(start, min(start + params.chunk, params.length), live);
  let base = segment * params.length;

  var acc = vec2f(0.0);
  for (var i = start + lane; i < end; i += lanes) {
#if ${v.pairsIn}
    acc = pair_add(acc, src[base + i]);
#else
    acc = pair_add_scalar(acc, src[base + i]);
#endif
  }
  scratch[lid.x] = acc;
  workgroupBarrier();
  for (var half = lanes / 2u; half > 0u; half >>= 1u) {
    if (lane < half) { scratch[lid.x] = pair_add(scratch[lid.x], scratch[lid.x + half]); }
    workgroupBarrier();
  }
  if (lane == 0u && live) {
    let total = pair_add(scratch[lid.x], vec2f(0.0));
#if ${v.final}
    let sum = total.x + total.y;
    sums[segment] = sum;
    means[segment] = sum / params.count;
#else
    partials[segment * params.chunks + wg.x] = total;
#endif
  }
}
`;
}
