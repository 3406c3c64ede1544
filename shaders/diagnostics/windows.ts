// SPEC §5 windows from compensated prefix sums: the scan kernel and `mu_at`, the one place that turns the prefix
// buffer into μ_{t,q}(ℓ). Other kernels (envelope, ψ, μ dumps, anything later) open with `windowKernelHead` and bind
// the prefix buffer; none restates the formulas.
//
// Prefix buffer: [k, B, T+1, H] (hi, lo) pairs, quantity-major; entry (k, b, t, q) holds the sum over steps j < t
// of quantity k (entry t = 0 is zero), so a window j = t-ℓ+1…t is entry t+1 minus entry t+1-ℓ. Pairs keep the
// prefix to about 2^-47 of its magnitude (float64 prefixes, as in the reference: 2^-53), so a window's sum is exact
// to that times the prefix's magnitude per step. Where this shows: a leak clamped near 1e-12 makes a first-order
// ratio R ≈ 1e12·|rdiag|, and the ratio sums of later windows (which do not contain it) inherit an absolute error of
// about 2^-48·R·√(steps since) (float64 prefixes: 2^-53·R per step); windows containing the step stay accurate.
import { intermediatePlane, windowRuleCell, type CellKind, type IntermediateName } from '../../src/model/cells.ts';
import { d } from '../../src/gpu/layout.ts';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { foldRows } from '../../src/gpu/grid.ts';
import { foldedRow } from '../common.ts';
import { preciseMath } from './precise.ts';

/** Sizes of one diagnostic batch, shared by every window kernel. */
export const WindowParams = d.struct({
  count: d.u32, // B: sequences in this batch
  steps: d.u32, // T
  hidden: d.u32, // H
  lagCount: d.u32, // L: lags in the grid (the lag buffer's length)
  planeBatch: d.u32, // sequences per plane of the intermediates buffer [n, planeBatch, T, H]
  one: d.f32, // always 1.0: `opaque` derives its run-time zero from it (precise.ts)
});

/** The window kernels' uniform binding, `params: WindowParams`. */
export const windowUniform = { name: 'params', struct: 'WindowParams', schema: WindowParams };

export interface WindowVariant {
  cell: CellKind;
  /** μ = μ0 + μ1 (SPEC §5's first-order term), else μ = μ0. The linear cell has no first-order term: ignored. */
  firstOrder: boolean;
}

export function windowVariantKey(v: WindowVariant): string {
  return `${v.cell},${hasFirstOrder(v) ? 'first' : 'zeroth'}`;
}

/** Whether μ gets SPEC §5's first-order term in this variant (never for the linear cell, SPEC §12). */
export function hasFirstOrder(v: WindowVariant): boolean {
  return v.firstOrder && windowRuleCell(v.cell) !== 'linear';
}

/**
 * The rule the kernels implement for a cell (src/model/cells.ts windowRuleCell), except that rnn's d_t changes
 * from step to step, so its signed product is scanned (`signed`) rather than powered as the linear cell's constant.
 */
function kernelRule(cell: CellKind): CellKind | 'signed' {
  return cell === 'rnn' || cell === 'rnn_relu' ? 'signed' : windowRuleCell(cell);
}

/**
 * What the prefix buffer holds per cell, in slot order. `log`: Σ log clamp(factor); `raw`: the value at step t
 * itself (lstm's e_t, the linear cell's Wh_qq; stored at entry t+1, not summed); `ratio`: Σ of the first-order
 * terms, present only in the first-order variant (always last).
 */
export function prefixQuantities(v: WindowVariant): string[] {
  const base: Record<CellKind, string[]> = {
    const: ['log leak'],
    shared: ['log leak'],
    diag: ['log leak'],
    gru: ['log leak', 'log r', 'log leak·r'],
    lstm: ['log f', 'e (raw)'],
    linear: ['Wh_qq (raw)'],
    // SPEC §13: rnn's μ0 = Π d_j = (-1)^(negatives) · exp Σ log|d_j|, and 0 when a factor is 0
    rnn: ['log |d|', 'negatives', 'zeros'],
    rnn_relu: ['log |d|', 'negatives', 'zeros'],
    torch_gru: ['log leak'],
    torch_lstm: ['log f', 'e (raw)'],
  };
  return [...base[v.cell], ...(hasFirstOrder(v) ? ['ratio'] : [])];
}

/** One scan step for (b, q) at time t: adds step t's terms to the running pairs `acc[k]` (WGSL body). */
function scanStep(v: WindowVariant): string {
  const ratio = prefixQuantities(v).length - 1;
  // The planes of the SPEC §4 terms the scan reads, in the cell's plane order (CELL_FACTS, src/model/cells.ts).
  const plane = (name: IntermediateName) => intermediatePlane(v.cell, name);
  const rule = kernelRule(v.cell);
  if (rule === 'linear') return `
    acc[0] = vec2f(inter_at(${plane('leak')}u, b, t, q), 0.0);`;
  if (rule === 'signed') {
    // |d| below 1e-30 counts as a zero factor: a window holding it has |μ0| < 1e-30·max|d|^ℓ either way
    return `
    let d = inter_at(${plane('leak')}u, b, t, q);
    let magnitude = abs(d);
    let zero = magnitude < 1e-30;
    acc[0] = pair_add(acc[0], select(log_pair(max(magnitude, 1e-30)), vec2f(0.0), zero));
    acc[1] = pair_add(acc[1], vec2f(select(0.0, 1.0, d < 0.0), 0.0));
    acc[2] = pair_add(acc[2], vec2f(select(0.0, 1.0, zero), 0.0));`;
  }
  if (rule === 'lstm') {
    return `
    let f = clamp_factor(inter_at(${plane('f')}u, b, t, q));
    let e = inter_at(${plane('e')}u, b, t, q);
    acc[0] = pair_add(acc[0], log_pair(f));
    acc[1] = vec2f(e, 0.0);
    ${v.firstOrder ? `acc[${ratio}] = pair_add(acc[${ratio}], div_pair(two_prod(inter_at(${plane('cdiag')}u, b, t, q), e_prev), f));` : ''}
    e_prev = e;`;
  }
  if (rule === 'gru') {
    return `
    let leak_raw = inter_at(${plane('leak')}u, b, t, q);
    let r_raw = inter_at(${plane('r')}u, b, t, q);
    let leak = clamp_factor(leak_raw);
    acc[0] = pair_add(acc[0], log_pair(leak));
    acc[1] = pair_add(acc[1], log_pair(clamp_factor(r_raw)));
    acc[2] = pair_add(acc[2], log_clamped_product(leak_raw, r_raw));
    ${v.firstOrder ? `acc[${ratio}] = pair_add(acc[${ratio}], div_pair(vec2f(inter_at(${plane('rdiag')}u, b, t, q), 0.0), leak));` : ''}`;
  }
  return `
    let leak = clamp_factor(inter_at(${plane('leak')}u, b, t, q));
    acc[0] = pair_add(acc[0], log_pair(leak));
    ${v.firstOrder ? `acc[${ratio}] = pair_add(acc[${ratio}], div_pair(vec2f(inter_at(${plane('rdiag')}u, b, t, q), 0.0), leak));` : ''}`;
}

export const SCAN_WORKGROUP = 64;

/** One thread per (b, q) walks t = 0…T-1 and writes every prefix entry; reads and writes are coalesced over q. */
export function scanProgram(v: WindowVariant): Program<typeof WindowParams> {
  return defineProgram({
    name: 'window_scan',
    variantKey: windowVariantKey(v),
    bindings: [
      { name: 'inter', access: 'read', type: 'f32' },
      { name: 'prefix', access: 'read_write', type: 'vec2f' },
    ],
    uniform: windowUniform,
    workgroupSize: [SCAN_WORKGROUP],
    dispatch: (p, limits) => [1, ...foldRows(Math.ceil((p.count * p.hidden) / SCAN_WORKGROUP), limits.maxWorkgroupsPerDimension)],
    shader: (head) => scanShader(v, head),
  });
}

function scanShader(v: WindowVariant, head: ShaderHead): string {
  const k = prefixQuantities(v).length;
  return /* wgsl */ `
${head.declarations}
${preciseMath('params.one')}
${foldedRow}

const K: u32 = ${k}u;

fn inter_at(n: u32, b: u32, t: u32, q: u32) -> f32 {
  return inter[((n * params.planeBatch + b) * params.steps + t) * params.hidden + q];
}

fn prefix_index(k: u32, b: u32, t: u32, q: u32) -> u32 {
  return ((k * params.count + b) * (params.steps + 1u) + t) * params.hidden + q;
}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let id = folded_row(wg, nwg) * ${head.threads}u + lid.x;
  if (id >= params.count * params.hidden) { return; }
  let b = id / params.hidden;
  let q = id % params.hidden;
  var acc: array<vec2f, K>;
  var e_prev = 0.0; // lstm: e_{t-1}, with e_{-1} = 0 (SPEC §5)
  for (var n = 0u; n < K; n++) { prefix[prefix_index(n, b, 0u, q)] = vec2f(0.0); }
  for (var t = 0u; t < params.steps; t++) {
${scanStep(v)}
    for (var n = 0u; n < K; n++) { prefix[prefix_index(n, b, t + 1u, q)] = acc[n]; }
  }
}
`;
}

/** w^n for a whole n ≥ 0 by repeated squaring, sign kept (the linear cell's μ0 = Wh_qq^ℓ). */
const signedPower = /* wgsl */ `
fn signed_power(w: f32, n: u32) -> f32 {
  var result = 1.0;
  var base = w;
  var e = n;
  loop {
    if ((e & 1u) == 1u) { result *= base; }
    e >>= 1u;
    if (e == 0u) { break; }
    base *= base;
  }
  return result;
}
`;

/** Names, in the including shader, of what `mu_at` reads. */
export interface MuAtBindings {
  /** The prefix buffer, `array<vec2f>`. */
  prefix: string;
  /** Expressions for B (the batch the prefix buffer was scanned with), T and H (u32). */
  count: string;
  steps: string;
  hidden: string;
}

/** The SPEC §5 assembly of μ from window sums: exp of the log windows, times the first-order factor. */
function muAssembly(v: WindowVariant): string {
  const ratio = prefixQuantities(v).length - 1;
  const firstFactor = hasFirstOrder(v) ? `one_plus(window_sum(${ratio}u, b, t, q, lag))` : '1.0';
  const rule = kernelRule(v.cell);
  if (rule === 'signed') {
    // SPEC §13: sign × exp Σ log|d_j| over the window, 0 when it holds a zero factor; not clamped (|d| may exceed 1)
    return `
  let zeros = window_sum(2u, b, t, q, lag);
  if (zeros.x + zeros.y > 0.5) { return 0.0; }
  let negatives = window_sum(1u, b, t, q, lag);
  let sign = select(1.0, -1.0, (u32(round(negatives.x + negatives.y)) & 1u) == 1u);
  return scaled_exp(exp_split(window_sum(0u, b, t, q, lag)), sign);`;
  }
  if (rule === 'linear') {
    // Π_j Wh_qq = Wh_qq^ℓ, signed (SPEC §12): no logs, no clamp. Binary powering: relative error ≲ ℓ ulp.
    return `
  return signed_power(mu_prefix_at(0u, b, t + 1u, q).x, lag);`;
  }
  if (rule === 'gru') {
    // Γ(1 + Σ rdiag/leak) + R + E
    return `
  let gamma = exp_split(window_sum(0u, b, t, q, lag));
  let reset = exp_split(window_sum(1u, b, t, q, lag));
  let both = exp_split(window_sum(2u, b, t, q, lag));
  return scaled_exp(gamma, ${firstFactor}) + scaled_exp(reset, 1.0) + scaled_exp(both, 1.0);`;
  }
  if (rule === 'lstm') {
    // e_t Π f_j (1 + Σ cdiag_j e_{j-1} / f_j)
    return `
  let e_t = mu_prefix_at(1u, b, t + 1u, q).x;
  return scaled_exp(exp_split(window_sum(0u, b, t, q, lag)), e_t * ${firstFactor});`;
  }
  // Π leak_j (1 + Σ rdiag_j / leak_j)
  return `
  return scaled_exp(exp_split(window_sum(0u, b, t, q, lag)), ${firstFactor});`;
}

/**
 * WGSL defining `fn mu_at(b: u32, t: u32, q: u32, lag: u32) -> f32`: μ_{t,q}(ℓ) of sequence b for a window end
 * t ≥ ℓ ≥ 1 (callers skip t < ℓ). Needs preciseMath (precise.ts) and the bindings named.
 */
export function muAtFunction(v: WindowVariant, names: MuAtBindings): string {
  return /* wgsl */ `
fn mu_prefix_at(k: u32, b: u32, t: u32, q: u32) -> vec2f {
  return ${names.prefix}[((k * (${names.count}) + b) * ((${names.steps}) + 1u) + t) * (${names.hidden}) + q];
}

// Sum of quantity k over the window j = t-lag+1…t.
fn window_sum(k: u32, b: u32, t: u32, q: u32, lag: u32) -> vec2f {
  return pair_diff(mu_prefix_at(k, b, t + 1u, q), mu_prefix_at(k, b, t + 1u - lag, q));
}

${kernelRule(v.cell) === 'linear' ? signedPower : ''}
fn mu_at(b: u32, t: u32, q: u32, lag: u32) -> f32 {${muAssembly(v)}
}
`;
}

/**
 * The opening every per-(lag, sequence) window kernel (envelope, ψ, μ dump) shares: the program's declarations
 * (whose bindings start with windowHeadBindings: the prefix buffer and the lag list), precise math, `mu_at`, and
 * `window_row`, which turns a workgroup row into its sequence b, lag ℓ and output row l·B + b ([L, B, ...] outputs).
 * Rows are sequence-major (group = b·L + l): consecutive workgroups share a sequence's prefix sums, which stay in
 * cache across lags. Rows at or past `window_rows()` have no work.
 */
/** The first bindings of every kernel that opens with windowKernelHead. */
export const windowHeadBindings: readonly BindingDecl[] = [
  { name: 'prefix', access: 'read', type: 'vec2f' },
  { name: 'lag_list', access: 'read', type: 'u32' },
];

/** One workgroup row per (lag, sequence), folded; `x` columns. */
export function windowRowGrid(x: (p: { steps: number; hidden: number }) => number = () => 1) {
  return (p: { lagCount: number; count: number; steps: number; hidden: number }, limits: { maxWorkgroupsPerDimension: number }) =>
    [x(p), ...foldRows(p.lagCount * p.count, limits.maxWorkgroupsPerDimension)] as const;
}

export function windowKernelHead(v: WindowVariant, head: ShaderHead): string {
  return /* wgsl */ `
${head.declarations}
${preciseMath('params.one')}
${foldedRow}

${muAtFunction(v, { prefix: 'prefix', count: 'params.count', steps: 'params.steps', hidden: 'params.hidden' })}

struct WindowRow { b: u32, lag: u32, row: u32 }

fn window_rows() -> u32 {
  return params.lagCount * params.count;
}

fn window_row(group: u32) -> WindowRow {
  let b = group / params.lagCount;
  let l = group % params.lagCount;
  return WindowRow(b, lag_list[l], l * params.count + b);
}
`;
}

/**
 * ψ_t(ℓ) of one window end from each lane's compensated partial sum `acc` (a vec2f pair): a pairwise tree over the
 * QL unit lanes in workgroup memory `sums`, then lane 0 writes the row's step t (SPEC §7). Shared by window_psi and
 * window_envelope's fused ψ variant, which must sum in the same order.
 */
export function psiStepTotal(acc: string): string {
  return `  sums[lid.x] = ${acc};
  workgroupBarrier();
  for (var half = QL / 2u; half > 0u; half >>= 1u) {
    if (ql < half) { sums[lid.x] = pair_add(sums[lid.x], sums[lid.x + half]); }
    workgroupBarrier();
  }
  if (ql == 0u && t < params.steps) {
    let total = sums[lid.x];
    psi[w.row * params.steps + t] = total.x + total.y;
  }`;
}

/**
 * The opening shared by the per-(lag, sequence) kernels that spread the H units over QL lanes and the window ends
 * over TL = WG/QL rows of threads (envelope, fused envelope + ψ, ψ): the lane constants, the workgroup array `sums`
 * for their pairwise trees (plus `extra` module-scope declarations), and `main` up to the decoded row and lane.
 */
export function laneKernelOpening(lanes: number, head: ShaderHead, extra = ''): string {
  return `const WG: u32 = ${head.threads}u;
const QL: u32 = ${lanes}u;
const TL: u32 = WG / QL;
var<workgroup> sums: array<vec2f, WG>;
${extra}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let group = folded_row(wg, nwg);
  if (group >= window_rows()) { return; }
  let w = window_row(group);
  let b = w.b;
  let lag = w.lag;
  let ql = lid.x % QL;`;
}
