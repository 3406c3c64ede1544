// SPEC §7 ψ values and μ dumps from the prefix buffer (windows.ts):
//  - `window_psi`: ψ_t(ℓ) = Σ_q μ_{t,q}(ℓ) δ_{t,q} v_{t-ℓ,q} (optionally ρ_{t-ℓ,q} μ_{t,q}) into [L, B, T],
//    0 for t < ℓ. A workgroup owns (lag, sequence, a tile of TL steps); QL lanes per step split the units and
//    meet in a compensated tree.
//  - `window_mu`: μ_{t,q}(ℓ) itself into [L, B, T, H] (0 for t < ℓ), for tests and for comparing with the exact
//    transport of SPEC §6.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { WindowParams, laneKernelOpening, psiStepTotal, windowHeadBindings, windowKernelHead, windowRowGrid, windowUniform, windowVariantKey, type WindowVariant } from './windows.ts';
import { WINDOW_WORKGROUP } from './envelope.ts';

export interface PsiVariant extends WindowVariant {
  /** Use the generalized rates ρ_{t-ℓ,q} μ_{t,q} (SPEC §7 "with μ or the generalized μ̃"). */
  useRho: boolean;
  /** unitLanes(H) (envelope.ts). */
  lanes: number;
}

export function psiVariantKey(v: PsiVariant): string {
  return `${windowVariantKey(v)},${v.useRho ? 'rho' : 'norho'},ql${v.lanes}`;
}

/** Time steps per workgroup of the ψ kernel. */
export function psiTileSteps(lanes: number): number {
  return WINDOW_WORKGROUP / lanes;
}

/** Workgroups: x over tiles of psiTileSteps steps, rows over (lag, sequence). */
export function psiProgram(v: PsiVariant): Program<typeof WindowParams> {
  return defineProgram({
    name: 'window_psi',
    variantKey: psiVariantKey(v),
    bindings: [
      ...windowHeadBindings,
      { name: 'delta', access: 'read', type: 'f32' }, // [B, T, H]: (ŷ_t - y_t)·out.weight
      { name: 'tangent', access: 'read', type: 'f32' }, // [B, T, H]: v_t = (dh_t/dθ)[w]
      { name: 'psi', access: 'read_write', type: 'f32' }, // [L, B, T]
      ...(v.useRho ? [{ name: 'rho', access: 'read', type: 'f32' } as const] : []), // [B, T, H]
    ],
    uniform: windowUniform,
    workgroupSize: [WINDOW_WORKGROUP],
    dispatch: windowRowGrid((p) => Math.ceil(p.steps / psiTileSteps(v.lanes))),
    shader: (head) => psiShader(v, head),
  });
}

function psiShader(v: PsiVariant, head: ShaderHead): string {
  return wgsl`
${windowKernelHead(v, head)}

${laneKernelOpening(v.lanes, head)}
  let t = wg.x * TL + lid.x / QL;
  let H = params.hidden;
  var acc = vec2f(0.0);
  // SPEC §7: ψ_t(ℓ) for t ∈ [ℓ, T-1]; earlier entries are written as 0.
  if (t < params.steps && t >= lag) {
    let at = (b * params.steps + t) * H;
    let start = (b * params.steps + t - lag) * H;
    for (var q = ql; q < H; q += QL) {
#if ${v.useRho}
      let rate = rho[start + q] * mu_at(b, t, q, lag);
#else
      let rate = mu_at(b, t, q, lag);
#endif
      acc = pair_add_scalar(acc, rate * delta[at + q] * tangent[start + q]);
    }
  }
${psiStepTotal('acc')}
}
`;
}

export const MU_DUMP_WORKGROUP = 256;

/** Workgroups: x over (t, q), rows over (lag, sequence). */
export function muDumpProgram(v: WindowVariant): Program<typeof WindowParams> {
  return defineProgram({
    name: 'window_mu',
    variantKey: windowVariantKey(v),
    bindings: [...windowHeadBindings, { name: 'mu', access: 'read_write', type: 'f32' }], // mu: [L, B, T, H]
    uniform: windowUniform,
    workgroupSize: [MU_DUMP_WORKGROUP],
    dispatch: windowRowGrid((p) => Math.ceil((p.steps * p.hidden) / MU_DUMP_WORKGROUP)),
    shader: (head) => muDumpShader(v, head),
  });
}

function muDumpShader(v: WindowVariant, head: ShaderHead): string {
  return /* wgsl */ `
${windowKernelHead(v, head)}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let group = folded_row(wg, nwg);
  let i = wg.x * ${head.threads}u + lid.x; // t · H + q
  if (group >= window_rows() || i >= params.steps * params.hidden) { return; }
  let w = window_row(group);
  let t = i / params.hidden;
  let q = i % params.hidden;
  var value = 0.0;
  if (t >= w.lag) { value = mu_at(w.b, t, q, w.lag); }
  mu[w.row * params.steps * params.hidden + i] = value;
}
`;
}
