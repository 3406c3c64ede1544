// Adaptive base rate ρ (SPEC §5): ρ_{b,t,q} = Σ_p J_qp² η_p / Σ_p J_qp² with J_q = ∂h_{t,q}/∂θ over one step
// (h_{t-1}, x_t held fixed). How J_q factors into per-row sums is derived in src/diagnostics/rho.ts; this kernel
// evaluates that factorisation. A workgroup owns the tile's sequences at one step t (shaders/cells/tile.ts: K units
// per thread, so H up to 1024): it reloads h_{t-1} (and c_{t-1}) from the stored forward states, re-runs the cell's
// forward step for its gates, then forms, per unit q, the pair of sums (Σ_p J_qp² η_p/η̄, Σ_p J_qp²).
//
// Both lanes of every pair go through the same arithmetic, lane x weighted by the ratio buffer R[p] = η_p/η̄ and
// lane y by `params.one` (a run-time 1.0 the compiler cannot fold). Under SGD every ratio is exactly 1, the lanes
// agree bitwise and ρ = η̄ exactly; otherwise ρ = η̄ · x/y, a weighted mean of positive ratios (no cancellation).
import { d } from '../../src/gpu/layout.ts';
import { defineProgram, type BindingDecl, type Program, type ShaderHead } from '../../src/gpu/program.ts';
import { stateWidth, type CellKind } from '../../src/model/cells.ts';
import { foldedRow } from '../common.ts';
import { leakyForwardStep } from '../cells/leaky.ts';
import { gruForwardStep } from '../cells/gru.ts';
import { lstmForwardStep } from '../cells/lstm.ts';
import { linearForwardStep } from '../cells/linear.ts';
import { TORCH_FORWARD_STEPS, torchRho } from '../cells/torch.ts';
import type { StepContext } from '../cells/step-context.ts';
import { WORKGROUP_FLOATS, tileArrayFloats, tileGrid, tileKey, tileSequences, tileUnits, tileVariantKey, type Tile } from '../cells/tile.ts';
import { groupLoad, perComponent } from '../cells/tile-components.ts';
import { tilePrelude } from '../cells/prelude.ts';
import { tileShader } from '../cells/held-weights.ts';
import { gruColumnHelpers, rhoHelpers } from './rho-tile.ts';
import { recurrentUniform, type RecurrentSchema, type RecurrentUniforms } from '../recurrence/params.ts';
import { loadState, stepContext, tileEntry } from '../recurrence/forward.ts';

export interface RhoVariant {
  cell: CellKind;
  layernorm: boolean;
  /** The thread tile (src/diagnostics/rho.ts: the training kernels' default tile for H, R = 1). */
  tile: Tile;
}

export function rhoVariantKey(v: RhoVariant): string {
  return `${v.cell},${v.layernorm ? 'ln' : 'noln'},${tileVariantKey(v.tile)}`;
}

/** Floats of workgroup memory on `tile`: hbuf, abuf and red, and `spare` for gru with LayerNorm. */
export function rhoWorkgroupFloats(v: RhoVariant): number {
  return tileArrayFloats(v.tile) + (v.cell === 'gru' && v.layernorm ? tileSequences(v.tile) * tileUnits(v.tile) : 0);
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

/** Steps are independent given the stored states: one workgroup column per step, rows of the tile's sequences. */
export function rhoProgram(v: RhoVariant): Program<RecurrentSchema, RecurrentUniforms> {
  // one sequence per thread group: the cross-unit passes (LayerNorm's columns, gru's reset) index its slot alone
  if (v.tile.R !== 1) throw new RangeError(`rho_${v.cell}: tile ${tileKey(v.tile)} has R=${v.tile.R}; ρ's kernel takes one sequence per thread group (R = 1)`);
  if (rhoWorkgroupFloats(v) > WORKGROUP_FLOATS) throw new RangeError(`rho_${v.cell}: tile ${tileKey(v.tile)} needs ${rhoWorkgroupFloats(v)} floats of workgroup memory, over ${WORKGROUP_FLOATS}`);
  return defineProgram({
    name: `rho_${v.cell}`,
    variantKey: rhoVariantKey(v),
    bindings: RHO_BINDINGS,
    uniform: recurrentUniform(v, RHO_FIELDS),
    workgroupSize: [v.tile.threads],
    dispatch: tileGrid(v.tile, (p) => p.steps),
    shader: (head) => tileShader(v.tile, { layout: 'rows', buffer: 'P' }, rhoShader(v, head)),
  });
}

interface Term {
  /** WGSL V: the per-unit factor ∂h_q/∂(a block's output), squared into the sum. */
  factor: string;
  /** WGSL P2: the block's rate sums seen by unit q. */
  sum: string;
}

/**
 * A cell's ρ: `rows` forms every row sum (reading hbuf, abuf and x, before any workgroup vector is reused), `cross`
 * the sums that need other units (uniform control flow; it starts with a barrier), `terms` what combineTerms adds.
 */
interface CellRho {
  rows: string;
  cross?: string;
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

/** The candidate block's own row sums `cand_rates` and its slope `cand_slope` L_q = A_q (1 - g_q²). */
function candidateRows(c: StepContext): string {
  const { o } = c;
  const k = candidateOf(c.cell);
  return `${relativeValues(c.cell)}
  let cand_slope = ${k.dhdg} * g_slope;
  let cand_rates = p2_live(pair_rates(${o(`${k.w}.weight`)}, ${o(`${k.w}.bias`)}, ${o(`${k.u}.weight`)}, ${k.resetState}), live);`;
}

/**
 * The candidate's sums through LayerNorm (after every row sum): `cand_sum` (its rows through the projection, when
 * on), `cand_factor` K_q = L_q γ_q/σ (L_q without LayerNorm) and LayerNorm's affine terms `ln_sum` with factor L_q.
 * With LayerNorm, hbuf/abuf take the rows' sums and red n̂ (`ln_col`, gru's column means against n̂, is formed while
 * they are there).
 */
function candidateCross(c: StepContext, lnColumns: string): string {
  const { o, layernorm, lnPrefix } = c;
  if (!layernorm) return `
  let cand_sum = cand_rates;
  let cand_factor = cand_slope;
  let ln_sum = P2(V(0.0), V(0.0));`;
  const gamma = o(`${lnPrefix}.weight`);
  const beta = o(`${lnPrefix}.bias`);
  return `
  workgroupBarrier(); // every row sum has read hbuf and abuf
  put_h(cand_rates.x);
  put_a(cand_rates.y);
  put_red(select(V(0.0), ln.n, live));
  workgroupBarrier();
  let cand_sum = p2_live(ln_projected_rates(ln.n), live);
  let ln_sum = p2_live(p2_fma(ln.n * ln.n, rate_u(${gamma}), rate_u(${beta})), live);
  let cand_factor = select(V(0.0), cand_slope * pu(${gamma}) * ln.inv_std, live);${lnColumns}`;
}

/** A gate pair with one row per unit: its own row's rate sums. */
function gateRows(c: StepContext, w: string, u: string, name: string): string {
  const { o } = c;
  return `
  let ${name} = p2_live(pair_rates(${o(`${w}.weight`)}, ${o(`${w}.bias`)}, ${o(`${u}.weight`)}, false), live);`;
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
  if (cell === 'shared') gate = `\n  let gate_rates = pair_rates0(${o('Ws.weight')}, ${o('Ws.bias')}, ${o('Us.weight')});`;
  if (cell !== 'const') terms.push({ factor: '(g_rel - hq) * sg * sgc', sum: 'gate_rates' });
  return { rows: candidateRows(c) + gate, cross: candidateCross(c, ''), terms };
}

/**
 * gru: the reset gate reaches h_q only through the candidate: ∂h_q/∂a_{r,j} = K_q (M̃ Uh)_qj h_j r_j(1-r_j), with
 * M̃ = I - 11ᵀ/H - n̂n̂ᵀ/H under LayerNorm (I without), so its sum is Σ_j (M̃ Uh)_qj² (h_j r_j(1-r_j))² c_{r,j}.
 * The reset pass reads every unit's reset rates (hbuf/abuf) and, with LayerNorm, the column means of Uh (red/spare:
 * (mean_i Uh[i,j], mean_i n̂_i Uh[i,j]), formed while n̂ is in red).
 */
function gruRho(c: StepContext): CellRho {
  const { o, layernorm } = c;
  const uh = o('Uh.weight');
  const columns = layernorm
    ? `
  var col = P2(V(0.0), V(0.0));
  {
    let inv_h = 1.0 / f32(params.H);
    let base = tslot0 * THT;
    for (var i = 0u; i < params.H; i++) {
      let w = pcol(${uh} + i * params.H);
      col = p2_fma(V(inv_h), P2(w, w * V(${groupLoad('red', 'i')})), col);
    }
  }`
    : '';
  const rows = `${candidateRows(c)}${gateRows(c, 'Wz', 'Uz', 'update_rates')}
  let u_reset = hq * r * rc;
  let reset_rates = p2_live(p2_scale(u_reset * u_reset, pair_rates(${o('Wr.weight')}, ${o('Wr.bias')}, ${o('Ur.weight')}, false)), live);`;
  const cross = `${candidateCross(c, columns)}
  workgroupBarrier(); // the rows' sums (and n̂) are read
  put_h(reset_rates.x);
  put_a(reset_rates.y);${layernorm ? `
  put_red(col.x);
  put_spare(col.y);` : ''}
  workgroupBarrier();
  var reset_sum = P2(V(0.0), V(0.0));
  {
    let base = tslot0 * THT;
    for (var j = 0u; j < params.H; j++) {
      let m = prow(${uh}, j)${layernorm ? ` - V(${groupLoad('red', 'j')}) - ln.n * V(spare[base + j])` : ''};
      reset_sum = p2_fma(m * m, P2(V(${groupLoad('hbuf', 'j')}), V(${groupLoad('abuf', 'j')})), reset_sum);
    }
  }
  reset_sum = p2_live(reset_sum, live);`;
  return {
    rows,
    cross,
    terms: [
      { factor: 'cand_factor', sum: 'p2_add(cand_sum, reset_sum)' },
      { factor: 'cand_slope', sum: 'ln_sum' },
      { factor: '(g_rel - hq) * z * zc', sum: 'update_rates' },
    ],
  };
}

/** lstm: h = o tanh(c), c = f c_prev + i g; the gates i, f, o act on their own unit only. */
function lstmRho(c: StepContext): CellRho {
  const rows = `${candidateRows(c)}${gateRows(c, 'Wi', 'Ui', 'input_rates')}${gateRows(c, 'Wf', 'Uf', 'forget_rates')}${gateRows(c, 'Wo', 'Uo', 'output_rates')}`;
  return {
    rows,
    cross: candidateCross(c, ''),
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
    rows: `
  let own_rates = p2_live(pair_rates(${o('Wx.weight')}, ${o('Wx.bias')}, ${o('Wh.weight')}, false), live);`,
    terms: [{ factor: 'V(1.0)', sum: 'own_rates' }],
  };
}

function torchCellRho(c: StepContext): CellRho {
  const { code, terms } = torchRho(c);
  return { rows: code, terms };
}

const CELLS: Record<CellKind, { forward: (c: StepContext) => string; rho: (c: StepContext) => CellRho }> = {
  const: { forward: leakyForwardStep, rho: leakyRho },
  shared: { forward: leakyForwardStep, rho: leakyRho },
  diag: { forward: leakyForwardStep, rho: leakyRho },
  gru: { forward: gruForwardStep, rho: gruRho },
  lstm: { forward: lstmForwardStep, rho: lstmRho },
  linear: { forward: linearForwardStep, rho: linearRho },
  rnn: { forward: TORCH_FORWARD_STEPS.rnn, rho: torchCellRho },
  rnn_relu: { forward: TORCH_FORWARD_STEPS.rnn_relu, rho: torchCellRho },
  torch_gru: { forward: TORCH_FORWARD_STEPS.torch_gru, rho: torchCellRho },
  torch_lstm: { forward: TORCH_FORWARD_STEPS.torch_lstm, rho: torchCellRho },
};

/**
 * Σ_k factor_k² sum_k with the factors divided by their largest magnitude first: ρ is a ratio, so a common scale
 * cancels, and squares of tiny gate slopes (saturated units) cannot underflow to a 0/0.
 */
function combineTerms(terms: Term[]): string {
  const factors = terms.map((t, i) => `  let factor_${i} = ${t.factor};`).join('\n');
  const scale = terms.slice(1).reduce((acc, _t, i) => `max(${acc}, abs(factor_${i + 1}))`, 'abs(factor_0)');
  const adds = terms.map((t, i) => `  let u${i} = select(V(0.0), factor_${i} / scale, counted);\n  total = p2_fma(u${i} * u${i}, ${t.sum}, total);`).join('\n');
  return `
${factors}
  let scale = ${scale};
  let counted = live & (scale > V(0.0));
  var total = P2(V(0.0), V(0.0));
${adds}
  let rho_q = select(V(params.etaBar), params.etaBar * (total.x / total.y), (total.y > V(0.0)) & (total.x != total.y));`;
}

function rhoShader(v: RhoVariant, head: ShaderHead): string {
  const { tile } = v;
  const lstm = stateWidth(v.cell) === 2;
  const context = stepContext(v.cell, v.layernorm);
  const cell = CELLS[v.cell];
  const rho = cell.rho(context);
  const spare = v.cell === 'gru' && v.layernorm;
  // the state before step t: slot t-1 of the stored states (the zero state at t = 0)
  const before = (seq: string) => `(t - 1u) * params.batch + ${seq}`;
  return /* wgsl */ `
${head.declarations}
${foldedRow}
${tilePrelude(tile, { arrays: true })}
${rhoHelpers(tile, spare)}
const W: u32 = ${stateWidth(v.cell)}u;
${v.cell === 'gru' ? gruColumnHelpers(tile) : ''}

${tileEntry(head)}
  // One step per workgroup column: t = t0 + wg.x.
  let t = params.t0 + wg.x;
  tt = t;
${loadState(tile, 'h_before', 'states', before, 0, 't > 0u')}
${lstm ? loadState(tile, 'c_state', 'states', before, 1, 't > 0u') : ''}
  put_h(h_before);
  workgroupBarrier();
  let hq = get_h();
${cell.forward(context)}
${rho.rows}
${rho.cross ?? ''}
${combineTerms(rho.terms)}
${perComponent(tile, ({ unit, seq, comp }) => `  if (${seq} < params.batch && ${unit} < params.H) { rho_out[(${seq} * params.T + t) * params.H + ${unit}] = ${comp('rho_q')}; }`)}
}
`;
}
