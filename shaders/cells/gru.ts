// GRU (SPEC §2): z = σ(Wz x + Uz h), r = σ(Wr x + Ur h), g = tanh(LN(Wh x + Uh (r ⊙ h))), h' = (1-z) h + z g.
// SPEC §4 terms: leak = 1-z, r, rdiag = (g - h_prev) z(1-z) Uz_qq + z (1-g²) Uh_qq (r + h_prev r(1-r) Ur_qq).
import { candidateBackward, type StepContext } from './step-context.ts';

export function gruForwardStep(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  return /* wgsl */ `
  var a_z = 0.0;
  var a_r = 0.0;
  if (live) {
    a_z = P[${o('Wz.bias')} + q] + dot_x(${o('Wz.weight')} + q * params.D, s) + dot_h(${o('Uz.weight')} + q * params.H, s);
    a_r = P[${o('Wr.bias')} + q] + dot_x(${o('Wr.weight')} + q * params.D, s) + dot_h(${o('Ur.weight')} + q * params.H, s);
  }
  let z = sigmoid(a_z);
  let r = sigmoid(a_r);
  let zc = sigmoid(-a_z);
  let rc = sigmoid(-a_r);
  abuf[lid] = select(0.0, r * hq, live);
  workgroupBarrier();
  var a_g = 0.0;
  if (live) { a_g = P[${o('Wh.bias')} + q] + dot_x(${o('Wh.weight')} + q * params.D, s) + dot_a(${o('Uh.weight')} + q * params.H, s); }
${layernorm ? `  let ln = layer_norm(lid, a_g, live);
  a_g = select(0.0, ln.n * P[${o(`${lnPrefix}.weight`)} + q] + P[${o(`${lnPrefix}.bias`)} + q], live);` : ''}
  let g = tanh_c(a_g);
  let g_slope = tanh_slope(a_g);
  let h_new = zc * hq + z * g;
  var terms: array<f32, 4>;
  if (live) {
    let uz = P[${o('Uz.weight')} + q * params.H + q];
    let uh = P[${o('Uh.weight')} + q * params.H + q];
    let ur = P[${o('Ur.weight')} + q * params.H + q];
    terms[0] = z;
    terms[1] = zc;
    terms[2] = (g - hq) * z * zc * uz + z * g_slope * uh * (r + hq * r * rc * ur);
    terms[3] = r;
  }
`;
}

/**
 * Adjoint of one GRU step after the recomputed forward. Blocks: 0 = a_z, 1 = a_r, 2 = a_g (candidate, whose
 * recurrent operand is r ⊙ h_{t-1}). The candidate's adjoint reaches r through Uhᵀ·da_g first.
 */
export function gruBackwardStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  let da_z = select(0.0, dh * (g - hq) * z * zc, live);
${candidateBackward(c, 'dh * z')}
  dbuf[2u * WG + lid] = select(0.0, da_g, live);
  workgroupBarrier();
  var d_rh = 0.0;
  if (live) { d_rh = dot_col_d(${o('Uh.weight')}, q, s, 2u); }
  let da_r = d_rh * hq * r * rc;
  dbuf[lid] = da_z;
  dbuf[WG + lid] = select(0.0, da_r, live);
  workgroupBarrier();
  var dh_prev = 0.0;
  if (live) {
    dh_prev = dh * zc + d_rh * r + dot_col_d(${o('Uz.weight')}, q, s, 0u) + dot_col_d(${o('Ur.weight')}, q, s, 1u);
  }
  var blocks: array<f32, 4>;
  blocks[0] = da_z;
  blocks[1] = da_r;
  blocks[2] = da_g;
`;
}
