// Tangent of the leaky cells const, shared and diag (SPEC §2, §7), after leakyForwardStep (its a_s, sg, g, ln):
//   v' = (1-s) v + ṡ (g - h) + s ġ,   ġ = (1-g²) LṄ(ȧ_g),   ȧ_g = Ẇx x + ḃx + Ẇh h + Wh v,
//   ṡ = 0 (const: s_const is not trained), σ'(a_s) (Ẇs x + ḃs + U̇s h + Us v) (shared: one sum per sequence; diag: per unit).
import type { StepContext } from '../step-context.ts';
import { candidateNormTangent } from './common.ts';

function gateTangent(c: StepContext): string {
  const { cell, o } = c;
  if (cell === 'const') return 'let s_dot = 0.0;';
  if (cell === 'shared') {
    return `let as_dot = Pd[${o('Ws.bias')}] + dotd_x(${o('Ws.weight')}, s)
    + seq_sum(lid, select(0.0, Pd[${o('Us.weight')} + q] * hq + P[${o('Us.weight')} + q] * vq, live));
  let s_dot = sg * sgc * as_dot;`;
  }
  return `var as_dot = 0.0;
  if (live) { as_dot = pair_tangent(${o('Ws.weight')}, ${o('Ws.bias')}, ${o('Us.weight')}, q, s); }
  let s_dot = sg * sgc * as_dot;`;
}

export function leakyTangentStep(c: StepContext): string {
  const { o, layernorm, lnPrefix } = c;
  return /* wgsl */ `
  var ag_dot = 0.0;
  if (live) { ag_dot = pair_tangent(${o('Wx.weight')}, ${o('Wx.bias')}, ${o('Wh.weight')}, q, s); }
${candidateNormTangent(layernorm, lnPrefix, o, 'ag_dot')}
  let g_dot = g_slope * ag_dot;
  ${gateTangent(c)}
  let v_new = sgc * vq + s_dot * (g - hq) + sg * g_dot;
`;
}
