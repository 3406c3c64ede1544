// LSTM (SPEC §2): i, f, o = σ(W· x + U· h), g = tanh(LN(Wg x + Ug h)), c' = f c + i g, h' = o tanh(c').
// SPEC §4 terms: f, e = o (1 - tanh² c'), cdiag = c_prev f(1-f) Uf_qq + i (1-g²) Ug_qq + g i(1-i) Ui_qq.
// c is private to its thread (no other unit reads it), so it stays in a register across steps.
import { candidateBackward, type StepContext } from './step-context.ts';

export function lstmForwardStep(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  const pre = (gate: string) =>
    `P[${o(`W${gate}.bias`)} + q] + dot_x(${o(`W${gate}.weight`)} + q * params.D, s) + dot_h(${o(`U${gate}.weight`)} + q * params.H, s)`;
  return /* wgsl */ `
  var a_i = 0.0;
  var a_f = 0.0;
  var a_o = 0.0;
  var a_g = 0.0;
  if (live) {
    a_i = ${pre('i')};
    a_f = ${pre('f')};
    a_o = ${pre('o')};
    a_g = ${pre('g')};
  }
${layernorm ? `  let ln = layer_norm(lid, a_g, live);
  a_g = select(0.0, ln.n * P[${o(`${lnPrefix}.weight`)} + q] + P[${o(`${lnPrefix}.bias`)} + q], live);` : ''}
  let gi = sigmoid(a_i);
  let gf = sigmoid(a_f);
  let go = sigmoid(a_o);
  let gic = sigmoid(-a_i);
  let gfc = sigmoid(-a_f);
  let goc = sigmoid(-a_o);
  let g = tanh_c(a_g);
  let g_slope = tanh_slope(a_g);
  let c_prev = c_state;
  c_state = select(0.0, gf * c_prev + gi * g, live);
  let tc = tanh_c(c_state);
  let tc_slope = tanh_slope(c_state);
  let h_new = go * tc;
  var terms: array<f32, 4>;
  if (live) {
    terms[0] = gf;
    terms[1] = go * tc_slope;
    terms[2] = c_prev * gf * gfc * P[${o('Uf.weight')} + q * params.H + q]
      + gi * g_slope * P[${o('Ug.weight')} + q * params.H + q]
      + g * gi * gic * P[${o('Ui.weight')} + q * params.H + q];
  }
`;
}

/**
 * Adjoint of one LSTM step after the recomputed forward (c_state = c_t, c_prev = c_{t-1}). Given dh = ∂L/∂h_t and
 * dc_carry = ∂L/∂c_t from later steps, sets blocks 0..3 = a_i, a_f, a_o, a_g, `dh_prev` and the new `dc_carry`.
 */
export function lstmBackwardStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  let dct = dc_carry + dh * go * tc_slope;
  let da_i = select(0.0, dct * g * gi * gic, live);
  let da_f = select(0.0, dct * c_prev * gf * gfc, live);
  let da_o = select(0.0, dh * tc * go * goc, live);
${candidateBackward(c, 'dct * gi')}
  dc_carry = select(0.0, dct * gf, live);
  dbuf[lid] = da_i;
  dbuf[WG + lid] = da_f;
  dbuf[2u * WG + lid] = da_o;
  dbuf[3u * WG + lid] = select(0.0, da_g, live);
  workgroupBarrier();
  var dh_prev = 0.0;
  if (live) {
    dh_prev = dot_col_d(${o('Ui.weight')}, q, s, 0u) + dot_col_d(${o('Uf.weight')}, q, s, 1u)
      + dot_col_d(${o('Uo.weight')}, q, s, 2u) + dot_col_d(${o('Ug.weight')}, q, s, 3u);
  }
  var blocks: array<f32, 4>;
  blocks[0] = da_i;
  blocks[1] = da_f;
  blocks[2] = da_o;
  blocks[3] = da_g;
`;
}
