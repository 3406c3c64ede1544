// WGSL shared by the tangent (forward-mode JVP, SPEC §7) kernels of every cell. They run next to the forward step
// snippets, on the same thread tile (shaders/cells/tile.ts: R sequences × K units per thread as one V), and add,
// per step, the tangent v_t = (dh_t/dθ)[w] along a parameter direction w, stored in `Pd` with the layout (and
// uniform offsets) of `P`. v_{t-1} of the workgroup's sequences lives in `vbuf`, laid out as `hbuf`.
//
//   pdu(off)                    Pd[off + unit]: a per-unit entry of the direction
//   dotd_x(off) / dotd_x0(off)  Σ_d Ẇ[unit, d] x_t[d] (W at off, [H, D]; dotd_x0: row 0 for every unit), plus
//                               Σ_d W[unit, d] ẋ_t[d] with an input tangent
//   dot_hv(off)                 Σ_j U̇[unit, j] h_{t-1}[j] + U[unit, j] v_{t-1}[j]: the tangent of a row of U h
//   dot_au(off)                 the same against abuf and ubuf (gru: r ⊙ h and its tangent)
//   pair_tangent(w, b, u)       ȧ of a = W x + b + U h: Ẇ x + ḃ + U̇ h + U v
//   get_v / put_v / put_u       this thread's components of vbuf / ubuf
//   layer_norm_tangent(...)     LayerNorm's exact JVP
import { dotLoop } from '../dot-loop.ts';
import { tileSplit, tileSums, tileUnroll, unitRowAccess, type RowWeights, type Tile } from '../tile.ts';
import { groupVector, slotLoads, tileFma, tileGetter, tileIndices, tileSetter, vec } from '../tile-components.ts';

/**
 * Workgroup memory and helpers the tangent snippets use; include after tilePrelude (with arrays). With
 * `inputTangent`, x_t of sequence b also moves along `input_dir[0..D)` at the single step `input_dir[D + b]`
 * (SPEC §12's lag recovery), which adds W·ẋ_t wherever Ẇ·x_t appears (every Ẇx term goes through dotd_x, so this
 * is the one place that knows). `ubuf` shares `red`'s memory (16 KiB hold hbuf, abuf, red and vbuf at H = 1024): a
 * snippet writing it must not call unit_sum until its reads of ubuf are done and a barrier has passed.
 */
export function tangentPrelude(tile: Tile, inputTangent: boolean, layout: RowWeights['layout'] = 'rows'): string {
  if (tileSplit(tile) > 1) throw new Error('the tangent kernels run unsplit tiles (one thread per unit)');
  const { comps, rs, ks, unitLets, xRows } = tileIndices(tile);
  const unroll = tileUnroll(tile);
  const sums = tileSums(tile);
  // P and Pd share a layout: by rows, or both copied by columns (src/cells/tangent.ts), as the row helpers read P.
  const { base, at } = unitRowAccess(layout);
  // dotd_x0 reads row 0 of a one-row matrix for every unit (shared's scalar gate), stored as it is in either layout.
  const xDot = (name: string, perUnit: boolean) => `
fn ${name}(off: u32) -> V {
  ${unitLets}
  ${ks.map((k) => (perUnit ? base(k, 'params.D') : `let w${k} = off;`)).join(' ')}
  ${xRows}${inputTangent ? `\n  ${rs.map((r) => `let moved${r} = u32(input_dir[params.D + min(tseq0 + ${r}u, params.batch - 1u)]) == tt;`).join(' ')}` : ''}
${dotLoop('params.D', unroll, (d, s) => ({
  loads: [
    ...ks.map((k) => `let p${k}${s} = ${perUnit ? at('Pd', k, d) : `Pd[w${k} + ${d}]`};`),
    ...rs.map((r) => `let v${r}${s} = x[x${r} + ${d}];`),
    ...(inputTangent ? [...ks.map((k) => `let q${k}${s} = ${perUnit ? at('P', k, d) : `P[w${k} + ${d}]`};`), ...rs.map((r) => `let e${r}${s} = select(0.0, input_dir[${d}], moved${r});`)] : []),
  ],
  fmas: [tileFma(tile, 'p', 'v', s), ...(inputTangent ? [tileFma(tile, 'q', 'e', s)] : [])],
}), undefined, sums)}
}`;
  const rowPair = (name: string, first: string, second: string) => `
fn ${name}(off: u32) -> V {
  ${unitLets}
  ${ks.map((k) => base(k, 'params.H')).join(' ')}
${dotLoop('params.H', unroll, (j, s) => ({
  loads: [
    ...ks.map((k) => `let p${k}${s} = ${at('Pd', k, j)}; let q${k}${s} = ${at('P', k, j)};`),
    ...slotLoads(tile, first, j, 'h', s),
    ...slotLoads(tile, second, j, 'v', s),
  ],
  fmas: [tileFma(tile, 'p', 'h', s), tileFma(tile, 'q', 'v', s)],
}), undefined, sums)}
}`;
  return /* wgsl */ `
var<workgroup> vbuf: array<${groupVector(tile)}, TGROUPS * THT>; // v_{t-1} of the workgroup's sequences, laid out as hbuf

fn pdu(off: u32) -> V {
  ${unitLets}
  return ${vec(comps.map((c) => `Pd[off + u${c.k}]`))};
}
${xDot('dotd_x', true)}
${xDot('dotd_x0', false)}
${rowPair('dot_hv', 'hbuf', 'vbuf')}
${rowPair('dot_au', 'abuf', 'red')}

fn pair_tangent(w: u32, b: u32, u: u32) -> V {
  return pdu(b) + dotd_x(w) + dot_hv(u);
}

${tileGetter(tile, 'get_v', 'vbuf')}

${tileSetter(tile, 'put_v', 'vbuf')}

// ubuf: red's memory (see tangentPrelude)
${tileSetter(tile, 'put_u', 'red')}

${layerNormTangent}`;
}

/**
 * The exact JVP of LayerNorm (src/model/f64/layernorm.ts): with n̂ and 1/σ from layer_norm,
 * ẏ = γ ⊙ n̂̇ + γ̇ ⊙ n̂ + β̇, n̂̇ = (1/σ)(ȧ - mean ȧ - n̂ · mean(ȧ ⊙ n̂)), both means in one unit_sums2 (uniform control
 * flow only).
 * `gamma`, `beta` are the offsets of the LayerNorm's weight and bias; idle components get 0.
 */
const layerNormTangent = /* wgsl */ `
fn layer_norm_tangent(a_dot: V, ln: LnOut, gamma: u32, beta: u32, live: M) -> V {
  let inv_h = 1.0 / f32(params.H);
  let means = unit_sums2(select(V(0.0), a_dot, live), select(V(0.0), a_dot * ln.n, live));
  let mean_dot = means[0] * inv_h;
  let mean_dot_n = means[1] * inv_h;
  let n_dot = ln.inv_std * (a_dot - mean_dot - ln.n * mean_dot_n);
  return select(V(0.0), pu(gamma) * n_dot + pdu(gamma) * ln.n + pdu(beta), live);
}
`;

/** `a_dot = layer_norm_tangent(...)` when the cell has LayerNorm, else nothing (the candidate's ȧ is its input). */
export function candidateNormTangent(layernorm: boolean, lnPrefix: string, o: (tensor: string) => string, aDot: string): string {
  if (!layernorm) return '';
  return `  ${aDot} = layer_norm_tangent(${aDot}, ln, ${o(`${lnPrefix}.weight`)}, ${o(`${lnPrefix}.bias`)}, live);`;
}
