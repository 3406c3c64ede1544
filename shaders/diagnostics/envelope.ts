// SPEC §5 envelope sums per lag, in two kernels:
//  - `window_envelope`: a workgroup per (lag, sequence) sums |μ_{t,q}| over t ∈ [ℓ, T-1] for every unit q
//    (and |ρ_{t-ℓ,q}|·|μ_{t,q}| with ρ), as compensated pairs into partial sums [L, B, H]; its `psi` variant also
//    forms SPEC §7's ψ_t(ℓ) from the same μ (one evaluation of μ per (t, q) instead of two kernels each evaluating
//    every μ), bit for bit what `window_psi` (psi.ts) writes;
//  - `window_accumulate`: a workgroup per lag folds the batch's partial sums into the run's accumulators:
//    per-unit sums Σ_{b,t}|μ_q| [L, H], and per lag Σ_b log(mass_b + 1e-30) and Σ_{b,t,q}|ρ||μ| ([L, 2] pairs).
// The host divides by the counts at the end (src/diagnostics/windows.ts); nothing is read back per batch.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { defineProgram, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { foldRows } from '../../src/gpu/grid.ts';
import { foldedRow } from '../common.ts';
import { preciseMath } from './precise.ts';
import { WindowParams, laneKernelOpening, psiStepTotal, windowHeadBindings, windowKernelHead, windowRowGrid, windowUniform, windowVariantKey, type WindowVariant } from './windows.ts';

export const WINDOW_WORKGROUP = 256;

/** Lanes over units in a (t, q) tile: a power of two up to 32, so a tile's reads of one time step are contiguous. */
export function unitLanes(hidden: number): number {
  return Math.min(32, 2 ** Math.ceil(Math.log2(Math.max(1, hidden))));
}

export interface EnvelopeVariant extends WindowVariant {
  /** Also sum |ρ_{b,t-ℓ,q}|·|μ_{t,q}| (SPEC §5's generalized envelope). */
  withRho: boolean;
  /** unitLanes(H). */
  lanes: number;
  /**
   * Also write ψ_t(ℓ) [L, B, T] (SPEC §7) from the μ it evaluates: 'mu' with μ, 'rho' with ρ_{t-ℓ,q} μ_{t,q} (needs
   * withRho); absent: the envelope alone. The fused variant needs ⌈H / lanes⌉, `chunks`, private sums per thread.
   */
  psi?: { rates: 'mu' | 'rho'; chunks: number };
}

export function envelopeVariantKey(v: EnvelopeVariant): string {
  const psi = v.psi ? `,psi-${v.psi.rates},c${v.psi.chunks}` : '';
  return `${windowVariantKey(v)},${v.withRho ? 'rho' : 'norho'},ql${v.lanes}${psi}`;
}

export function envelopeProgram(v: EnvelopeVariant): Program<typeof WindowParams> {
  return defineProgram({
    name: 'window_envelope',
    variantKey: envelopeVariantKey(v),
    bindings: [
      ...windowHeadBindings,
      { name: 'partial_mu', access: 'read_write', type: 'vec2f' }, // [L, B, H]
      ...(v.withRho
        ? ([
            { name: 'rho', access: 'read', type: 'f32' }, // [B, T, H]
            { name: 'partial_rho', access: 'read_write', type: 'vec2f' }, // [L, B, H]
          ] as const)
        : []),
      ...(v.psi
        ? ([
            { name: 'delta', access: 'read', type: 'f32' }, // [B, T, H]
            { name: 'tangent', access: 'read', type: 'f32' }, // [B, T, H]
            { name: 'psi', access: 'read_write', type: 'f32' }, // [L, B, T]
          ] as const)
        : []),
    ],
    uniform: windowUniform,
    workgroupSize: [WINDOW_WORKGROUP],
    dispatch: windowRowGrid(),
    shader: (head) => (v.psi ? fusedShader(v, v.psi, head) : envelopeShader(v, head)),
  });
}

/**
 * Envelope and ψ from one μ per (t, q). A thread (tl, ql) visits t = ℓ + tl, ℓ + tl + TL, … and units
 * q = ql, ql + QL, …: the same (t, q) per thread, in the same order, as envelopeShader's sums (per unit, over t)
 * and window_psi's (per step, over q), and the same trees after, so both results are bit-identical to theirs.
 */
/** The second workgroup array of the ρ-weighted envelope, when the variant has ρ. */
const rhoSums = (v: EnvelopeVariant) => (v.withRho ? 'var<workgroup> sums_rho: array<vec2f, WG>;' : '');

function fusedShader(v: EnvelopeVariant, psi: { rates: 'mu' | 'rho'; chunks: number }, head: ShaderHead): string {
  if (psi.rates === 'rho' && !v.withRho) throw new Error('window_envelope: ψ with ρ·μ needs the withRho variant');
  return wgsl`
${windowKernelHead(v, head)}

${laneKernelOpening(v.lanes, head, `const CHUNKS: u32 = ${psi.chunks}u;\n${rhoSums(v)}`)}
  let tl = lid.x / QL;
  let H = params.hidden;
  // SPEC §7: ψ_t(ℓ) = 0 before the first window end.
  for (var t = lid.x; t < lag; t += WG) { psi[w.row * params.steps + t] = 0.0; }
  var acc: array<vec2f, CHUNKS>;
#if ${v.withRho}
  var acc_rho: array<vec2f, CHUNKS>;
#endif
  // SPEC §5: windows end at t ∈ [ℓ, T-1]; tiles of TL steps from ℓ, so each thread's steps are envelopeShader's.
  for (var t0 = lag; t0 < params.steps; t0 += TL) {
    let t = t0 + tl;
    var psi_acc = vec2f(0.0);
    if (t < params.steps) {
      let at = (b * params.steps + t) * H;
      let start = (b * params.steps + t - lag) * H;
      for (var c = 0u; c < CHUNKS; c++) {
        let q = c * QL + ql;
        if (q < H) {
          let mu = mu_at(b, t, q, lag);
          acc[c] = pair_add_scalar(acc[c], abs(mu));
#if ${v.withRho}
          acc_rho[c] = pair_add(acc_rho[c], two_prod(abs(rho[start + q]), abs(mu)));
#endif
#if ${psi.rates === 'rho'}
          let rate = rho[start + q] * mu;
#else
          let rate = mu;
#endif
          psi_acc = pair_add_scalar(psi_acc, rate * delta[at + q] * tangent[start + q]);
        }
      }
    }
${psiStepTotal('psi_acc')}
    workgroupBarrier();
  }
  for (var c = 0u; c < CHUNKS; c++) {
    let q = c * QL + ql;
    sums[lid.x] = acc[c];
#if ${v.withRho}
    sums_rho[lid.x] = acc_rho[c];
#endif
    workgroupBarrier();
    for (var half = TL / 2u; half > 0u; half >>= 1u) {
      if (tl < half) {
        sums[lid.x] = pair_add(sums[lid.x], sums[lid.x + half * QL]);
#if ${v.withRho}
        sums_rho[lid.x] = pair_add(sums_rho[lid.x], sums_rho[lid.x + half * QL]);
#endif
      }
      workgroupBarrier();
    }
    if (tl == 0u && q < H) {
      partial_mu[w.row * H + q] = sums[lid.x];
#if ${v.withRho}
      partial_rho[w.row * H + q] = sums_rho[lid.x];
#endif
    }
    workgroupBarrier();
  }
}
`;
}

function envelopeShader(v: EnvelopeVariant, head: ShaderHead): string {
  return wgsl`
${windowKernelHead(v, head)}

${laneKernelOpening(v.lanes, head, rhoSums(v))}
  let tl = lid.x / QL;
  for (var q0 = 0u; q0 < params.hidden; q0 += QL) {
    let q = q0 + ql;
    var acc = vec2f(0.0);
#if ${v.withRho}
    var acc_rho = vec2f(0.0);
#endif
    if (q < params.hidden) {
      // SPEC §5: windows end at t ∈ [ℓ, T-1].
      for (var t = lag + tl; t < params.steps; t += TL) {
        let mu = abs(mu_at(b, t, q, lag));
        acc = pair_add_scalar(acc, mu);
#if ${v.withRho}
        // ρ at the window's start s = t - ℓ; the product is kept exact for the decomposition's difference.
        acc_rho = pair_add(acc_rho, two_prod(abs(rho[(b * params.steps + t - lag) * params.hidden + q]), mu));
#endif
      }
    }
    sums[lid.x] = acc;
#if ${v.withRho}
    sums_rho[lid.x] = acc_rho;
#endif
    workgroupBarrier();
    for (var half = TL / 2u; half > 0u; half >>= 1u) {
      if (tl < half) {
        sums[lid.x] = pair_add(sums[lid.x], sums[lid.x + half * QL]);
#if ${v.withRho}
        sums_rho[lid.x] = pair_add(sums_rho[lid.x], sums_rho[lid.x + half * QL]);
#endif
      }
      workgroupBarrier();
    }
    if (tl == 0u && q < params.hidden) {
      partial_mu[w.row * params.hidden + q] = sums[lid.x];
#if ${v.withRho}
      partial_rho[w.row * params.hidden + q] = sums_rho[lid.x];
#endif
    }
    workgroupBarrier();
  }
}
`;
}

export const ACCUMULATE_WORKGROUP = 64;

export function accumulateVariantKey(withRho: boolean): string {
  return withRho ? 'rho' : 'norho';
}

/** One workgroup per lag, folded. */
export function accumulateProgram(withRho: boolean): Program<typeof WindowParams> {
  return defineProgram({
    name: 'window_accumulate',
    variantKey: accumulateVariantKey(withRho),
    bindings: [
      { name: 'lag_list', access: 'read', type: 'u32' },
      { name: 'partial_mu', access: 'read', type: 'vec2f' }, // [L, B, H]
      { name: 'unit_sums', access: 'read_write', type: 'vec2f' }, // [L, H]: Σ_{b,t} |μ_q|
      { name: 'lag_sums', access: 'read_write', type: 'vec2f' }, // [L, 2]: Σ_b log(mass_b + 1e-30), Σ |ρ||μ|
      ...(withRho ? [{ name: 'partial_rho', access: 'read', type: 'vec2f' } as const] : []), // [L, B, H]
    ],
    uniform: windowUniform,
    workgroupSize: [ACCUMULATE_WORKGROUP],
    dispatch: (p, limits) => [1, ...foldRows(p.lagCount, limits.maxWorkgroupsPerDimension)],
    shader: (head) => accumulateShader(withRho, head),
  });
}

function accumulateShader(withRho: boolean, head: ShaderHead): string {
  return wgsl`
${head.declarations}
${preciseMath('params.one')}
${foldedRow}

const WG: u32 = ${head.threads}u;
var<workgroup> log_sums: array<vec2f, WG>;
var<workgroup> rho_sums: array<vec2f, WG>;

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let l = folded_row(wg, nwg);
  if (l >= params.lagCount) { return; }
  let H = params.hidden;
  let B = params.count;
  for (var q = lid.x; q < H; q += WG) {
    var s = unit_sums[l * H + q];
    for (var b = 0u; b < B; b++) { s = pair_add(s, partial_mu[(l * B + b) * H + q]); }
    unit_sums[l * H + q] = s;
  }
  // SPEC §5: mass_b = mean_{t,q} |μ| over the (T - ℓ)·H windows of sequence b.
  let per_sequence = f32((params.steps - lag_list[l]) * H);
  var log_acc = vec2f(0.0);
  var rho_acc = vec2f(0.0);
  for (var b = lid.x; b < B; b += WG) {
    var m = vec2f(0.0);
    for (var q = 0u; q < H; q++) {
      m = pair_add(m, partial_mu[(l * B + b) * H + q]);
#if ${withRho}
      rho_acc = pair_add(rho_acc, partial_rho[(l * B + b) * H + q]);
#endif
    }
    log_acc = pair_add(log_acc, log_pair((m.x + m.y) / per_sequence + 1e-30));
  }
  log_sums[lid.x] = log_acc;
  rho_sums[lid.x] = rho_acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid.x < half) {
      log_sums[lid.x] = pair_add(log_sums[lid.x], log_sums[lid.x + half]);
      rho_sums[lid.x] = pair_add(rho_sums[lid.x], rho_sums[lid.x + half]);
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    lag_sums[2u * l] = pair_add(lag_sums[2u * l], log_sums[0]);
    lag_sums[2u * l + 1u] = pair_add(lag_sums[2u * l + 1u], rho_sums[0]);
  }
}
`;
}
