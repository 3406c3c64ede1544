// GRU (SPEC §2): z = σ(Wz x + Uz h), r = σ(Wr x + Ur h), g = tanh(LN(Wh x + Uh (r ⊙ h))), h' = (1-z) h + z g.
// SPEC §4 terms: leak = 1-z, r, rdiag = (g - h_prev) z(1-z) Uz_qq + z (1-g²) Uh_qq (r + h_prev r(1-r) Ur_qq).
import { columnProducts, candidateBackward, candidateNorm, candidatePre, pairPre, type StepContext } from './step-context.ts';

export function gruForwardStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  let a_z = ${pairPre(c, 'Wz', 'Uz')};
  let a_r = ${pairPre(c, 'Wr', 'Ur')};
  let z = sigmoid(a_z);
  let r = sigmoid(a_r);
  let zc = sigmoid(-a_z);
  let rc = sigmoid(-a_r);
  put_a(select(V(0.0), r * hq, live));
  workgroupBarrier();
  var a_g = ${candidatePre(c, 'Wh', 'Uh', 'row_a')};
${candidateNorm(c)}
  let g = tanh_c(a_g);
  let g_slope = tanh_slope(a_g);
  let h_new = zc * hq + z * g;
  var terms: array<V, 4>;
  terms[0] = z;
  terms[1] = zc;
  terms[2] = (g - hq) * z * zc * pdiag(${o('Uz.weight')}) + z * g_slope * pdiag(${o('Uh.weight')}) * (r + hq * r * rc * pdiag(${o('Ur.weight')}));
  terms[3] = r;
`;
}

/**
 * Adjoint of one GRU step after the recomputed forward. Blocks: 0 = a_z, 1 = a_r, 2 = a_g (candidate, whose
 * recurrent operand is r ⊙ h_{t-1}). The candidate's adjoint reaches r through Uhᵀ·da_g first.
 */
export function gruBackwardStep(c: StepContext): string {
  const { o } = c;
  const resident = c.resident ?? 4;
  return /* wgsl */ `
  let da_z = select(V(0.0), dh * (g - hq) * z * zc, live);
${candidateBackward(c, 'dh * z')}
${columnProducts([{ value: 'da_g', u: o('Uh.weight') }], resident, 'd_rh', resident - 1)}
  let da_r = select(V(0.0), d_rh * hq * r * rc, live);
${columnProducts([{ value: 'da_z', u: o('Uz.weight') }, { value: 'da_r', u: o('Ur.weight') }], resident, 'dh_u', 0, resident - 1)}
  let dh_prev = select(V(0.0), dh * zc + d_rh * r + dh_u, live);
  var blocks: array<V, 4>;
  blocks[0] = da_z;
  blocks[1] = da_r;
  blocks[2] = da_g;
`;
}
