// Adaptive base rate ρ (SPEC §5): ρ_{b,t,q} = Σ_p J_qp² η_p / Σ_p J_qp² with J_q = ∂h_{t,q}/∂θ over one step
// (h_{t-1}, x_t held fixed). How J_q factors into per-row sums is derived in src/diagnostics/rho.ts; this kernel
// evaluates that factorisation. A workgroup owns S sequences at one step t (the recurrent kernels' thread layout,
// shaders/cells/common.ts): it reloads h_{t-1} (and c_{t-1}) from the stored forward states, re-runs the cell's
// forward step for its gates, then forms, per unit q, the vector sum (Σ_p J_qp² η_p/η̄, Σ_p J_qp²).
//
// Both lanes of every vec2 go through the same arithmetic, lane x weighted by the ratio buffer R[p] = η_p/η̄ and
// lane y by `params.one` (a run-time 1.0 the compiler cannot fold). Under SGD every ratio is exactly 1, the lanes
// agree bitwise and ρ = η̄ exactly; otherwise ρ = η̄ · x/y, a weighted mean of positive ratios (no cancellation).
import { d } from '../../src/gpu/layout.ts';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { RECURRENT_WORKGROUP, recurrentEntry, recurrentGrid, recurrentPrelude, threadsPerSequence } from '../cells/common.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import { linearForwardStep } from '../cells/linear.ts';
import { TORCH_FORWARD_STEPS, torchRho } from '../cells/torch.ts';
import type { StepContext } from '../cells/step-context.ts';
import { recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from '../recurrence/params.ts';
import { stepContext } from '../recurrence/forward.ts';

export interface RhoVariant {
  cell: CellKind;
  layernorm: boolean;
  hidden: number;
}

export function rhoVariantKey(v: RhoVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},hp${threadsPerSequence(v.hidden)}`;
}

/** The kernel's own uniforms after RecurrentParams' fields: η̄ and the opaque 1.0 of the unweighted lane. */
const RHO_FIELDS = { etaBar: d.f32, one: d.f32 };

const RHO_BINDINGS: readonly BindingDecl[] = [
  { name: 'P', access: 'read', type: 'f32' }, // flat parameters
  { name: 'R', access: 'read', type: 'f32' }, // η_p / η̄ in the layout of P (0 outside the trainable tensors)
  { name: 'x', access: 'read', type: 'f32' }, // [B, T, D]
  { name: 'states', access: 'read', type: 'f32' }, // [T, B, W, H]: slot t = state after step t
  { name: 'rho_out', access: 'read_write', type: 'f32' }, // [B, T, H]
];

/** Steps are independent given the stored states: one workgroup column per step, rows of S sequences. */
export function rhoProgram(v: RhoVariant): Program<RecurrentSchema, RecurrentUniforms> {
  return defineProgram({
    name: `rho_${v.cell}`,
    variantKey: rhoVariantKey(v),
    bindings: RHO_BINDINGS,
    uniform: recurrentUniform(v, RHO_FIELDS),
    workgroupSize: [RECURRENT_WORKGROUP],
    dispatch: recurrentGrid(v.hidden, (p) => p.steps),
    shader: (head) => rhoShader(v, head),
  });
}

const rhoHelpers = /* wgsl */ `
var<workgroup> rho_row: array<vec2f, WG>;   // candidate rows' rate sums (for LayerNorm's coupling)
var<workgroup> rho_n: array<f32, WG>;       // n̂ of the S sequences
var<workgroup> rho_reset: array<vec2f, WG>; // gru: (r(1-r) h_{t-1})² × the reset rows' rate sums
var<workgroup> rho_col: array<vec2f, WG>;   // gru with LayerNorm: (mean_q' Uh[q',j], mean_q' n̂_q' Uh[q',j])

// tanh with a small relative error near 0, where J's factors need it (g_q - h_q, tanh(c) of a nearly shut LSTM
// unit): the built-in tanh is only absolutely accurate there (lavapipe: relative error 2e-4 at 1e-4, 100% at 1e-8).
// Below |a| = 1/8 the odd series to a⁹ is exact to ~1e-12 relative; above, tanh is within ~2e-7.
fn tanh_rel(a: f32) -> f32 {
  if (abs(a) >= 0.125) { return tanh_c(a); }
  let a2 = a * a;
  return a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))));
}

// (η_p/η̄, 1) for parameter p.
fn rate_pair(p: u32) -> vec2f {
  return vec2f(R[p], params.one);
}

// Σ_d x_d² (η/η̄, 1) over one row of a W-layer.
fn rates_x(off: u32, s: u32) -> vec2f {
  var acc = vec2f(0.0);
  for (var d = 0u; d < params.D; d++) {
    let v = x_at(d);
    acc = fma(vec2f(v * v), rate_pair(off + d), acc);
  }
  return acc;
}

// Σ_j u_j² (η/η̄, 1) over one row of a U-layer; u = h_{t-1} (hbuf) or gru's r ⊙ h_{t-1} (abuf).
fn rates_u(off: u32, s: u32, reset_state: bool) -> vec2f {
  var acc = vec2f(0.0);
  for (var j = 0u; j < params.H; j++) {
    let v = select(hbuf[s * HP + j], abuf[s * HP + j], reset_state);
    acc = fma(vec2f(v * v), rate_pair(off + j), acc);
  }
  return acc;
}

// Σ_p (∂a_q/∂θ_p)² (η_p/η̄, 1) for row q of a = W x + b + U u: the only parameters a_q depends on directly.
fn pair_rates(w: u32, b: u32, u: u32, q: u32, s: u32, reset_state: bool) -> vec2f {
  return rate_pair(b + q) + rates_x(w + q * params.D, s) + rates_u(u + q * params.H, s, reset_state);
}

// Σ_j (δ_qj - 1/H - n̂_q n̂_j / H)² rho_row[s, j]: LayerNorm's (symmetric) projection, squared, against the
// candidate rows' rate sums. One pass over the sequence's units, like a row of a matrix-vector product.
fn ln_projected_rates(q: u32, s: u32, n_q: f32) -> vec2f {
  let inv_h = 1.0 / f32(params.H);
  var acc = vec2f(0.0);
  for (var j = 0u; j < params.H; j++) {
    let e = select(0.0, 1.0, j == q) - inv_h - n_q * rho_n[s * HP + j] * inv_h;
    acc = fma(vec2f(e * e), rho_row[s * HP + j], acc);
  }
  return acc;
}
`;

interface Term {
  /** WGSL f32: the per-unit factor ∂h_q/∂(a block's output), squared into the sum. */
  factor: string;
  /** WGSL vec2f: the block's rate sums seen by unit q. */
  sum: string;
}

interface CellRho {
  code: string;
  terms: Term[];
}

/** Candidate pair names and how h_q depends on g_q (A_q = ∂h_q/∂g_q), per cell. */
function candidateOf(cell: CellKind): { w: string; u: string; dhdg: string; resetState: boolean } {
  if (cell === 'gru') return { w: 'Wh', u: 'Uh', dhdg: 'z', resetState: true };
  if (cell === 'lstm') return { w: 'Wg', u: 'Ug', dhdg: 'go * tc_slope_rel * gi', resetState: false };
  return { w: 'Wx', u: 'Wh', dhdg: 'sg', resetState: false };
}

/**
 * g (and lstm's c, tanh c) recomputed with tanh_rel for the factors of J: the forward step's values are accurate
 * in absolute terms only, and a factor such as g - h or tanh(c) may be small.
 */
function relativeValues(cell: CellKind): string {
  const lstm = `
  let c_rel = gf * c_prev + gi * g_rel;
  let tc_rel = tanh_rel(c_rel);
  let tc_slope_rel = tanh_slope(c_rel);`;
  return `
  let g_rel = tanh_rel(a_g);${cell === 'lstm' ? lstm : ''}`;
}

/**
 * The candidate block: `cand_rates` (its own row q), `cand_sum` (through LayerNorm's projection when on),
 * `cand_factor` K_q = L_q γ_q/σ (L_q without LayerNorm) and the LayerNorm affine terms `ln_sum` with factor L_q,
 * L_q = A_q (1 - g_q²).
 */
function candidateRho(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  const k = candidateOf(c.cell);
  const rows = `pair_rates(${o(`${k.w}.weight`)}, ${o(`${k.w}.bias`)}, ${o(`${k.u}.weight`)}, q, s, ${k.resetState})`;
  const head = `${relativeValues(c.cell)}
  let cand_slope = ${k.dhdg} * g_slope;
  var cand_rates = vec2f(0.0);
  if (live) { cand_rates = ${rows}; }`;
  if (!layernorm) return `${head}
  let cand_sum = cand_rates;
  let cand_factor = cand_slope;
  let ln_sum = vec2f(0.0);`;
  const gamma = o(`${lnPrefix}.weight`);
  const beta = o(`${lnPrefix}.bias`);
  return `${head}
  rho_row[lid] = cand_rates;
  rho_n[lid] = select(0.0, ln.n, live);
  workgroupBarrier();
  var cand_sum = vec2f(0.0);
  var ln_sum = vec2f(0.0);
  var cand_factor = 0.0;
  if (live) {
    cand_sum = ln_projected_rates(q, s, ln.n);
    ln_sum = fma(vec2f(ln.n * ln.n), rate_pair(${gamma} + q), rate_pair(${beta} + q));
    cand_factor = cand_slope * P[${gamma} + q] * ln.inv_std;
  }`;
}

/** A gate pair with one row per unit: its own row's rate sums. */
function gateRows(c: StepContext, w: string, u: string, name: string): string {
  const { o } = c;
  return `
  var ${name} = vec2f(0.0);
  if (live) { ${name} = pair_rates(${o(`${w}.weight`)}, ${o(`${w}.bias`)}, ${o(`${u}.weight`)}, q, s, false); }`;
}

function leakyRho(c: StepContext): CellRho {
  const { cell, o } = c;
  const terms: Term[] = [
    { factor: 'cand_factor', sum: 'cand_sum' },
    { factor: 'cand_slope', sum: 'ln_sum' },
  ];
  let gate = '';
  if (cell === 'diag') gate = gateRows(c, 'Ws', 'Us', 'gate_rates');
  // shared: the one gate row (Ws [1,D], its bias, Us [1,H]) feeds every unit; each thread sums it itself.
  if (cell === 'shared') gate = `\n  let gate_rates = pair_rates(${o('Ws.weight')}, ${o('Ws.bias')}, ${o('Us.weight')}, 0u, s, false);`;
  if (cell !== 'const') terms.push({ factor: '(g_rel - hq) * sg * sgc', sum: 'gate_rates' });
  return { code: candidateRho(c) + gate, terms };
}

/**
 * gru: the reset gate reaches h_q only through the candidate: ∂h_q/∂a_{r,j} = K_q (M̃ Uh)_qj h_j r_j(1-r_j), with
 * M̃ = I - 11ᵀ/H - n̂n̂ᵀ/H under LayerNorm (I without), so its sum is Σ_j (M̃ Uh)_qj² (h_j r_j(1-r_j))² c_{r,j}.
 */
function gruRho(c: StepContext): CellRho {
  const { o, layernorm } = c;
  const uh = o('Uh.weight');
  const column = layernorm
    ? `
  var col = vec2f(0.0);
  if (live) {
    let inv_h = 1.0 / f32(params.H);
    for (var i = 0u; i < params.H; i++) {
      let w = P[${uh} + i * params.H + q];
      col = fma(vec2f(w, w * rho_n[s * HP + i]), vec2f(inv_h), col);
    }
  }
  rho_col[lid] = col;`
    : '';
  const projected = layernorm ? `P[${uh} + q * params.H + j] - rho_col[s * HP + j].x - ln.n * rho_col[s * HP + j].y` : `P[${uh} + q * params.H + j]`;
  const code = `${candidateRho(c)}${gateRows(c, 'Wz', 'Uz', 'update_rates')}
  var reset_rates = vec2f(0.0);
  if (live) {
    let u = hq * r * rc;
    reset_rates = (u * u) * pair_rates(${o('Wr.weight')}, ${o('Wr.bias')}, ${o('Ur.weight')}, q, s, false);
  }
  rho_reset[lid] = reset_rates;${column}
  workgroupBarrier();
  var reset_sum = vec2f(0.0);
  if (live) {
    for (var j = 0u; j < params.H; j++) {
      let m = ${projected};
      reset_sum = fma(vec2f(m * m), rho_reset[s * HP + j], reset_sum);
    }
  }`;
  return {
    code,
    terms: [
      { factor: 'cand_factor', sum: 'cand_sum + reset_sum' },
      { factor: 'cand_slope', sum: 'ln_sum' },
      { factor: '(g_rel - hq) * z * zc', sum: 'update_rates' },
    ],
  };
}

/** lstm: h = o tanh(c), c = f c_prev + i g; the gates i, f, o act on their own unit only. */
function lstmRho(c: StepContext): CellRho {
  const code = `${candidateRho(c)}${gateRows(c, 'Wi', 'Ui', 'input_rates')}${gateRows(c, 'Wf', 'Uf', 'forget_rates')}${gateRows(c, 'Wo', 'Uo', 'output_rates')}`;
  return {
    code,
    terms: [
      { factor: 'cand_factor', sum: 'cand_sum' },
      { factor: 'cand_slope', sum: 'ln_sum' },
      { factor: 'go * tc_slope_rel * g_rel * gi * gic', sum: 'input_rates' },
      { factor: 'go * tc_slope_rel * c_prev * gf * gfc', sum: 'forget_rates' },
      { factor: 'tc_rel * go * goc', sum: 'output_rates' },
    ],
  };
}

/** linear: h_q = a_q depends directly on row q of Wx, its bias and row q of Wh only, each with factor 1. */
function linearRho(c: StepContext): CellRho {
  const { o } = c;
  return {
    code: `
  var own_rates = vec2f(0.0);
  if (live) { own_rates = pair_rates(${o('Wx.weight')}, ${o('Wx.bias')}, ${o('Wh.weight')}, q, s, false); }`,
    terms: [{ factor: '1.0', sum: 'own_rates' }],
  };
}

const CELLS: Record<CellKind, { forward: (c: StepContext) => string; rho: (c: StepContext) => CellRho }> = {
  const: { forward: leakyForwardStep, rho: leakyRho },
  shared: { forward: leakyForwardStep, rho: leakyRho },
  diag: { forward: leakyForwardStep, rho: leakyRho },
  gru: { forward: gruForwardStep, rho: gruRho },
  lstm: { forward: lstmForwardStep, rho: lstmRho },
  linear: { forward: linearForwardStep, rho: linearRho },
  rnn: { forward: TORCH_FORWARD_STEPS.rnn, rho: torchRho },
  rnn_relu: { forward: TORCH_FORWARD_STEPS.rnn_relu, rho: torchRho },
  torch_gru: { forward: TORCH_FORWARD_STEPS.torch_gru, rho: torchRho },
  torch_lstm: { forward: TORCH_FORWARD_STEPS.torch_lstm, rho: torchRho },
};

/**
 * Σ_k factor_k² sum_k with the factors divided by their largest magnitude first: ρ is a ratio, so a common scale
 * cancels, and squares of tiny gate slopes (saturated units) cannot underflow to a 0/0.
 */
function combineTerms(terms: Term[]): string {
  const factors = terms.map((t, i) => `  let factor_${i} = ${t.factor};`).join('\n');
  const scale = terms.slice(1).reduce((acc, _t, i) => `max(${acc}, abs(factor_${i + 1}))`, 'abs(factor_0)');
  const adds = terms.map((t, i) => `    let u${i} = factor_${i} / scale;\n    total = fma(vec2f(u${i} * u${i}), ${t.sum}, total);`).join('\n');
  return `
${factors}
  let scale = ${scale};
  var total = vec2f(0.0);
  if (live && scale > 0.0) {
${adds}
  }
  var rho_q = params.etaBar;
  if (total.y > 0.0 && total.x != total.y) { rho_q = params.etaBar * (total.x / total.y); }`;
}

function rhoShader(v: RhoVariant, head: ShaderHead): string {
  const hp = threadsPerSequence(v.hidden);
  const lstm = stateWidth(v.cell) === 2;
  const context = stepContext(v.cell, v.layernorm);
  const cell = CELLS[v.cell];
  const rho = cell.rho(context);
  return /* wgsl */ `
${recurrentPrelude(hp, head)}
${foldedRow}
${rhoHelpers}

${recurrentEntry(stateWidth(v.cell), head)}
  // One step per workgroup column: t = t0 + wg.x; its state before is slot t-1 (the zero state at t = 0).
  let t = params.t0 + wg.x;
  tt = t;
  var h_before = 0.0;
  var c_state = 0.0;
  if (live && t > 0u) {
    let base = (((t - 1u) * params.batch + seq) * W) * params.H + q;
    h_before = states[base];
    ${lstm ? 'c_state = states[base + params.H];' : ''}
  }
  hbuf[lid] = h_before;
  workgroupBarrier();
  let hq = hbuf[lid];
${cell.forward(context)}
${rho.code}
${combineTerms(rho.terms)}
  if (live) { rho_out[(seq * params.T + t) * params.H + q] = rho_q; }
}
`;
}
