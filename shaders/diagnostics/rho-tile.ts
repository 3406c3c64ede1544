// The thread tile's helpers of ρ's kernel (shaders/diagnostics/rho.ts): pairs of lanes (Σ J² η/η̄, Σ J²) as P2 of
// V, the row sums of a = W x + b + U u per unit, LayerNorm's projection and gru's Uh entries for the passes across
// units, and a tanh accurate relative to its value near 0.
import { dotLoop } from '../cells/dot-loop.ts';
import { tileSplit, tileSums, tileUnroll, type Tile } from '../cells/tile.ts';
import { groupComponent, groupLoad, tileIndices, tileSetter, vec } from '../cells/tile-components.ts';

/**
 * The tile's ρ helpers. A pair P2 carries the two lanes (Σ J² η/η̄, Σ J²) of every component through identical
 * arithmetic. Workgroup vectors are reused by phase: first every row sum (reading hbuf = h_{t-1}, abuf = gru's
 * r ⊙ h_{t-1}, and x), then, after a barrier, LayerNorm's projection (rows' sums in hbuf/abuf, n̂ in red), then gru's
 * reset pass (its rates in hbuf/abuf, the column means in red/spare): 16 KiB hold H = 1024.
 */
export function rhoHelpers(tile: Tile, spare: boolean): string {
  if (tileSplit(tile) > 1) throw new Error('the ρ kernels run unsplit tiles (one thread per unit)');
  const { comps, rs, ks, unitLets, xRows } = tileIndices(tile);
  const unroll = tileUnroll(tile);
  const sums = tileSums(tile);
  const add = (a: string, b: string) => `p2_add(${a}, ${b})`;
  // Both lanes of one term: (Σ v·w, Σ v) with w = η_p/η̄ of the component's parameter, v its squared operand.
  const lanes = (w: string, v: string, s: string) => `P2(fma(${vec(comps.map((c) => `${v}${c.r}${s}`))}, ${vec(comps.map((c) => `${w}${c.k}${s}`))}, acc.x), fma(${vec(comps.map((c) => `${v}${c.r}${s}`))}, V(params.one), acc.y))`;
  const zero = 'P2(V(0.0), V(0.0))';
  const ratesX = (name: string, perUnit: boolean) => `
fn ${name}(off: u32) -> P2 {
  ${unitLets}
  ${ks.map((k) => `let w${k} = off + ${perUnit ? `u${k}` : '0u'} * params.D;`).join(' ')}
  ${xRows}
${dotLoop('params.D', unroll, (d, s) => ({
  loads: [...ks.map((k) => `let p${k}${s} = R[w${k} + ${d}];`), ...rs.map((r) => `let v${r}${s} = x[x${r} + ${d}] * x[x${r} + ${d}];`)],
  fmas: [lanes('p', 'v', s)],
}), zero, sums, add)}
}`;
  const ratesU = (name: string, perUnit: boolean) => `
fn ${name}(off: u32${perUnit ? ', reset_state: bool' : ''}) -> P2 {
  ${unitLets}
  ${ks.map((k) => `let w${k} = off + ${perUnit ? `u${k}` : '0u'} * params.H;`).join(' ')}
${dotLoop('params.H', unroll, (j, s) => ({
  loads: [
    ...ks.map((k) => `let p${k}${s} = R[w${k} + ${j}];`),
    `let hg${s} = ${perUnit ? `select(${groupLoad('hbuf', j)}, ${groupLoad('abuf', j)}, reset_state)` : groupLoad('hbuf', j)};`,
    ...rs.map((r) => `let h${r}${s} = ${groupComponent(tile, `hg${s}`, r)}; let v${r}${s} = h${r}${s} * h${r}${s};`),
  ],
  fmas: [lanes('p', 'v', s)],
}), zero, sums, add)}
}`;
  return /* wgsl */ `
${spare ? 'var<workgroup> spare: array<f32, TSLOTS * THT>; // gru with LayerNorm: a fourth per-unit vector' : ''}
struct P2 { x: V, y: V }

fn p2_add(a: P2, b: P2) -> P2 { return P2(a.x + b.x, a.y + b.y); }
fn p2_scale(s: V, a: P2) -> P2 { return P2(s * a.x, s * a.y); }
fn p2_fma(s: V, a: P2, acc: P2) -> P2 { return P2(fma(s, a.x, acc.x), fma(s, a.y, acc.y)); }
fn p2_live(a: P2, live: M) -> P2 { return P2(select(V(0.0), a.x, live), select(V(0.0), a.y, live)); }

// (η_p/η̄, 1) of a per-unit parameter, and of one shared by every unit (shared's gate bias).
fn rate_u(off: u32) -> P2 {
  ${unitLets}
  return P2(${vec(comps.map((c) => `R[off + u${c.k}]`))}, V(params.one));
}
fn rate_0(off: u32) -> P2 { return P2(V(R[off]), V(params.one)); }
${ratesX('rates_x', true)}
${ratesX('rates_x0', false)}
${ratesU('rates_u', true)}
${ratesU('rates_u0', false)}

// Σ_p (∂a_q/∂θ_p)² (η_p/η̄, 1) for row q of a = W x + b + U u: the only parameters a_q depends on directly.
fn pair_rates(w: u32, b: u32, u: u32, reset_state: bool) -> P2 {
  return p2_add(p2_add(rate_u(b), rates_x(w)), rates_u(u, reset_state));
}
fn pair_rates0(w: u32, b: u32, u: u32) -> P2 {
  return p2_add(p2_add(rate_0(b), rates_x0(w)), rates_u0(u));
}
${spare ? tileSetter(tile, 'put_spare', 'spare') : ''}
${tileSetter(tile, 'put_red', 'red')}

// tanh with a small relative error near 0, where J's factors need it (g_q - h_q, tanh(c) of a nearly shut LSTM
// unit): the built-in tanh is only absolutely accurate there (lavapipe: relative error 2e-4 at 1e-4, 100% at 1e-8).
// Below |a| = 1/8 the odd series to a⁹ is exact to ~1e-12 relative; above, tanh is within ~2e-7.
fn tanh_rel(a: V) -> V {
  let a2 = a * a;
  let series = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))));
  return select(series, tanh_c(a), abs(a) >= V(0.125));
}

// Σ_j (δ_qj - 1/H - n̂_q n̂_j / H)² (hbuf, abuf)[j]: LayerNorm's (symmetric) projection, squared, against the
// candidate rows' rate sums (in hbuf, abuf; n̂ in red). One pass over the sequence's units per component.
fn ln_projected_rates(n_q: V) -> P2 {
  ${unitLets}
  let inv_h = 1.0 / f32(params.H);
  var acc = P2(V(0.0), V(0.0));
  for (var j = 0u; j < params.H; j++) {
    let rg = ${groupLoad('red', 'j')};
    let e = ${vec(comps.map((c) => `select(0.0, 1.0, j == u${c.k})`))} - inv_h - n_q * ${vec(comps.map((c) => groupComponent(tile, 'rg', c.r)))} * inv_h;
    let hg = ${groupLoad('hbuf', 'j')};
    let ag = ${groupLoad('abuf', 'j')};
    acc = p2_fma(e * e, P2(${vec(comps.map((c) => groupComponent(tile, 'hg', c.r)))}, ${vec(comps.map((c) => groupComponent(tile, 'ag', c.r)))}), acc);
  }
  return acc;
}
`;
}

/** gru's reset pass: Uh's entries [j, unit] as V (pcol: column `unit` of row off) and [unit, j] (prow). */
export function gruColumnHelpers(tile: Tile): string {
  const { comps, unitLets } = tileIndices(tile);
  return /* wgsl */ `
fn pcol(row: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `P[row + u${c.k}]`))};
}
fn prow(off: u32, j: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `P[off + u${c.k} * params.H + j]`))};
}
`;
}
