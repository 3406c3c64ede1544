// Tangent of the leaky cells const, shared and diag (SPEC §2, §7), after leakyForwardStep (its a_s, sg, g, ln):
//   v' = (1-s) v + ṡ (g - h) + s ġ,   ġ = (1-g²) LṄ(ȧ_g),   ȧ_g = Ẇx x + ḃx + Ẇh h + Wh v,
//   ṡ = 0 (const: s_const is not trained), σ'(a_s) (Ẇs x + ḃs + U̇s h + Us v) (shared: one sum per sequence; diag: per unit).
import type { StepContext } from '../step-context.ts';
import { candidateNormTangent } from './common.ts';

function gateTangent(c: StepContext): string {
  const { cell, o } = c;
  if (cell === 'const') return 'let s_dot = V(0.0);';
  if (cell === 'shared') {
    return `let as_dot = Pd[${o('Ws.bias')}] + dotd_x0(${o('Ws.weight')})
    + unit_sum(select(V(0.0), pdu(${o('Us.weight')}) * hq + pu(${o('Us.weight')}) * vq, live));
  let s_dot = sg * sgc * as_dot;`;
  }
  return `let as_dot = select(V(0.0), pair_tangent(${o('Ws.weight')}, ${o('Ws.bias')}, ${o('Us.weight')}), live);
  let s_dot = sg * sgc * as_dot;`;
}

export function leakyTangentStep(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  return /* wgsl */ `
  var ag_dot = select(V(0.0), pair_tangent(${o('Wx.weight')}, ${o('Wx.bias')}, ${o('Wh.weight')}), live);
${candidateNormTangent(layernorm, lnPrefix, o, 'ag_dot')}
  let g_dot = g_slope * ag_dot;
  ${gateTangent(c)}
  let v_new = sgc * vq + s_dot * (g - hq) + sg * g_dot;
`;
}
