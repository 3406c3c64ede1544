// Tangent of the GRU (SPEC §2, §7), after gruForwardStep (its z, r, g, ln, and abuf = r ⊙ h_{t-1}); ubuf holds
// ṙ ⊙ h_{t-1} + r ⊙ v_{t-1} for Uh's rows (dot_au):
//   ż = z(1-z) ȧ_z,  ṙ = r(1-r) ȧ_r  (ȧ of each layer pair along w, with U v),
//   ȧ_g = Ẇh x + ḃh + U̇h (r ⊙ h) + Uh (ṙ ⊙ h + r ⊙ v),  ġ = (1-g²) LṄ(ȧ_g),
//   v' = (1-z) v + ż (g - h) + z ġ.
import type { StepContext } from '../step-context.ts';
import { candidateNormTangent } from './common.ts';

export function gruTangentStep(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  return /* wgsl */ `
  let az_dot = select(V(0.0), pair_tangent(${o('Wz.weight')}, ${o('Wz.bias')}, ${o('Uz.weight')}), live);
  let ar_dot = select(V(0.0), pair_tangent(${o('Wr.weight')}, ${o('Wr.bias')}, ${o('Ur.weight')}), live);
  let z_dot = z * zc * az_dot;
  let r_dot = r * rc * ar_dot;
  put_u(select(V(0.0), r_dot * hq + r * vq, live));
  workgroupBarrier();
  var ag_dot = select(V(0.0), pdu(${o('Wh.bias')}) + dotd_x(${o('Wh.weight')}) + dot_au(${o('Uh.weight')}), live);
  workgroupBarrier(); // ubuf (red's memory) is read: unit_sum may use red again
${candidateNormTangent(layernorm, lnPrefix, o, 'ag_dot')}
  let g_dot = g_slope * ag_dot;
  let v_new = zc * vq + z_dot * (g - hq) + z * g_dot;
`;
}
