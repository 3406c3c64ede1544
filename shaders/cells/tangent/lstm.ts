// Tangent of the LSTM (SPEC §2, §7), after lstmForwardStep (its gi, gf, go, g, ln, c_prev, tc):
//   i̇, ḟ, ȯ = σ'(a) ȧ,  ġ = (1-g²) LṄ(ȧ_g)  (ȧ of each layer pair along w, with U v),
//   ċ' = ḟ c + f ċ + i̇ g + i ġ,   v' = ȯ tanh(c') + o (1 - tanh² c') ċ'.
// ċ stays in the thread's private `c_dot`, as c does in `c_state`.
import type { StepContext } from '../step-context.ts';
import { candidateNormTangent } from './common.ts';

/**
 * `pre(gate)` is the WGSL of that gate's pre-activation tangent ȧ (lwin's layer pairs by default; PyTorch's
 * torch_lstm passes its own, without LayerNorm).
 */
export function lstmTangentStep(c: StepContext, pre?: (gate: string) => string): string {
  const { o, layernorm, lnPrefix } = c;
  const pair = pre ?? ((gate: string) => `pair_tangent(${o(`W${gate}.weight`)}, ${o(`W${gate}.bias`)}, ${o(`U${gate}.weight`)})`);
  return /* wgsl */ `
  let ai_dot = select(V(0.0), ${pair('i')}, live);
  let af_dot = select(V(0.0), ${pair('f')}, live);
  let ao_dot = select(V(0.0), ${pair('o')}, live);
  var ag_dot = select(V(0.0), ${pair('g')}, live);
${candidateNormTangent(layernorm, lnPrefix, o, 'ag_dot')}
  let i_dot = gi * gic * ai_dot;
  let f_dot = gf * gfc * af_dot;
  let o_dot = go * goc * ao_dot;
  let g_dot = g_slope * ag_dot;
  c_dot = select(V(0.0), f_dot * c_prev + gf * c_dot + i_dot * g + gi * g_dot, live);
  let v_new = o_dot * tc + go * tc_slope * c_dot;
`;
}
