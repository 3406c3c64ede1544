// Tangent of the GRU (SPEC §2, §7), after gruForwardStep (its z, r, g, ln, and abuf = r ⊙ h_{t-1}):
//   ż = z(1-z) ȧ_z,  ṙ = r(1-r) ȧ_r  (ȧ of each layer pair along w, with U v),
//   ȧ_g = Ẇh x + ḃh + U̇h (r ⊙ h) + Uh (ṙ ⊙ h + r ⊙ v),  ġ = (1-g²) LṄ(ȧ_g),
//   v' = (1-z) v + ż (g - h) + z ġ.
import type { StepContext } from '../step-context.ts';
import { candidateNormTangent } from './common.ts';

/** The reset state's tangent ṙ ⊙ h + r ⊙ v of the S sequences, and its product with Uh's rows. */
export const gruTangentDecls = /* wgsl */ `
var<workgroup> ubuf: array<f32, WG>; // ṙ ⊙ h_{t-1} + r ⊙ v_{t-1}, [S][HP]

// Σ_j Pd[off + j] · abuf[s, j] + P[off + j] · ubuf[s, j]: the tangent of one row of Uh (r ⊙ h_{t-1}).
fn dot_au(off: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var j = 0u; j < params.H; j++) {
    acc = fma(Pd[off + j], abuf[s * HP + j], acc);
    acc = fma(P[off + j], ubuf[s * HP + j], acc);
  }
  return acc;
}
`;

export function gruTangentStep(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  return /* wgsl */ `
  var az_dot = 0.0;
  var ar_dot = 0.0;
  if (live) {
    az_dot = pair_tangent(${o('Wz.weight')}, ${o('Wz.bias')}, ${o('Uz.weight')}, q, s);
    ar_dot = pair_tangent(${o('Wr.weight')}, ${o('Wr.bias')}, ${o('Ur.weight')}, q, s);
  }
  let z_dot = z * zc * az_dot;
  let r_dot = r * rc * ar_dot;
  ubuf[lid] = select(0.0, r_dot * hq + r * vq, live);
  workgroupBarrier();
  var ag_dot = 0.0;
  if (live) {
    ag_dot = Pd[${o('Wh.bias')} + q] + dotd_x(${o('Wh.weight')} + q * params.D, s) + dot_au(${o('Uh.weight')} + q * params.H, s);
  }
${candidateNormTangent(layernorm, lnPrefix, o, 'ag_dot')}
  let g_dot = g_slope * ag_dot;
  let v_new = zc * vq + z_dot * (g - hq) + z * g_dot;
`;
}
