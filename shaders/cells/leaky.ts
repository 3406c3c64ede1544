// The leaky cells const, shared and diag (SPEC §2): g = tanh(LN(Wx x + Wh h)), h' = (1-s) h + s g, with
//   const:  s a fixed scalar (the `s_const` buffer);
//   shared: s = σ(Ws x + Us h), one scalar per sequence;
//   diag:   s = σ(Ws x + Us h) ∈ R^H.
// SPEC §4 terms: leak = 1-s, rdiag = (g - h_prev) σ'(a_s) Us_qq + s (1-g²) Wh_qq (first term absent for const).
import { candidateBackward, type StepContext } from './step-context.ts';

export function leakyForwardStep(c: StepContext): string {
  const { cell, o, layernorm, lnPrefix } = c;
  const gate =
    cell === 'const'
      ? `let a_s = 0.0;\n  let sg = P[${o('s_const')}];\n  let sgc = 1.0 - sg; // a fixed parameter, not a saturating σ`
      : cell === 'shared'
        ? `let a_s = P[${o('Ws.bias')}] + dot_x(${o('Ws.weight')}, s) + seq_sum(lid, select(0.0, P[${o('Us.weight')} + q] * hq, live));
  let sg = sigmoid(a_s);
  let sgc = sigmoid(-a_s);`
        : `var a_s = 0.0;
  if (live) { a_s = P[${o('Ws.bias')} + q] + dot_x(${o('Ws.weight')} + q * params.D, s) + dot_h(${o('Us.weight')} + q * params.H, s); }
  let sg = sigmoid(a_s);
  let sgc = sigmoid(-a_s);`;
  const usDiag = cell === 'shared' ? `P[${o('Us.weight')} + q]` : `P[${o('Us.weight')} + q * params.H + q]`;
  const gateTerm = cell === 'const' ? '0.0' : `(g - hq) * sg * sgc * ${usDiag}`;
  return /* wgsl */ `
  var a_g = 0.0;
  if (live) { a_g = P[${o('Wx.bias')} + q] + dot_x(${o('Wx.weight')} + q * params.D, s) + dot_h(${o('Wh.weight')} + q * params.H, s); }
${layernorm ? `  let ln = layer_norm(lid, a_g, live);
  a_g = select(0.0, ln.n * P[${o(`${lnPrefix}.weight`)} + q] + P[${o(`${lnPrefix}.bias`)} + q], live);` : ''}
  let g = tanh_c(a_g);
  let g_slope = tanh_slope(a_g);
  ${gate}
  let h_new = sgc * hq + sg * g;
  var terms: array<f32, 4>;
  if (live) {
    terms[0] = sg;
    terms[1] = sgc;
    terms[2] = ${gateTerm} + sg * g_slope * P[${o('Wh.weight')} + q * params.H + q];
  }
`;
}

/**
 * Adjoint of one leaky step, after the forward step has been recomputed. Given `dh` = ∂L/∂h_t, sets the gate
 * blocks' pre-activation adjoints (block 0: candidate a_g; block 1: gate a_s, shared's scalar kept at unit 0)
 * and `dh_prev` = ∂L/∂h_{t-1}.
 */
export function leakyBackwardStep(c: StepContext): string {
  const { cell, o } = c;
  const gate =
    cell === 'const'
      ? 'let da_s = 0.0;'
      : cell === 'shared'
        ? 'let da_s = seq_sum(lid, select(0.0, dh * (g - hq), live)) * sg * sgc;'
        : 'let da_s = select(0.0, dh * (g - hq) * sg * sgc, live);';
  const gatePath =
    cell === 'const' ? '0.0' : cell === 'shared' ? `da_s * P[${o('Us.weight')} + q]` : `dot_col_d(${o('Us.weight')}, q, s, 1u)`;
  return /* wgsl */ `
${candidateBackward(c, 'dh * sg')}
  ${gate}
  dbuf[lid] = select(0.0, da_g, live);
  dbuf[WG + lid] = select(0.0, da_s, live);
  workgroupBarrier();
  var dh_prev = 0.0;
  if (live) { dh_prev = dh * sgc + dot_col_d(${o('Wh.weight')}, q, s, 0u) + ${gatePath}; }
  var blocks: array<f32, 4>;
  blocks[0] = da_g;
  blocks[1] = ${cell === 'shared' ? 'select(0.0, da_s, q == 0u)' : 'da_s'};
`;
}
