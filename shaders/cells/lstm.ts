// LSTM (SPEC §2): i, f, o = σ(W· x + U· h), g = tanh(LN(Wg x + Ug h)), c' = f c + i g, h' = o tanh(c').
// SPEC §4 terms: f, e = o (1 - tanh² c'), cdiag = c_prev f(1-f) Uf_qq + i (1-g²) Ug_qq + g i(1-i) Ui_qq.
// c is private to its thread (no other unit reads it), so it stays in a register across steps.
import { columnProducts, candidateBackward, candidateNorm, candidatePre, pairPre, type StepContext } from './step-context.ts';

/**
 * The LSTM's gates, cell update and SPEC §4 terms from the pre-activations a_i, a_f, a_o, a_g (lwin's lstm and
 * PyTorch's, which differ only in how the pre-activations are formed); `u(gate)` is the offset of that gate's
 * recurrent matrix, whose diagonal the terms need.
 */
export function lstmUpdate(u: (gate: 'i' | 'f' | 'g') => string): string {
  return /* wgsl */ `
  let gi = sigmoid(a_i);
  let gf = sigmoid(a_f);
  let go = sigmoid(a_o);
  let gic = sigmoid(-a_i);
  let gfc = sigmoid(-a_f);
  let goc = sigmoid(-a_o);
  let g = tanh_c(a_g);
  let g_slope = tanh_slope(a_g);
  let c_prev = c_state;
  c_state = select(V(0.0), gf * c_prev + gi * g, live);
  let tc = tanh_c(c_state);
  let tc_slope = tanh_slope(c_state);
  let h_new = go * tc;
  var terms: array<V, 4>;
  terms[0] = gf;
  terms[1] = go * tc_slope;
  terms[2] = c_prev * gf * gfc * pdiag(${u('f')}) + gi * g_slope * pdiag(${u('g')}) + g * gi * gic * pdiag(${u('i')});
`;
}

export function lstmForwardStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  let a_i = ${pairPre(c, 'Wi', 'Ui')};
  let a_f = ${pairPre(c, 'Wf', 'Uf')};
  let a_o = ${pairPre(c, 'Wo', 'Uo')};
  var a_g = ${candidatePre(c, 'Wg', 'Ug')};
${candidateNorm(c)}
${lstmUpdate((gate) => o(`U${gate}.weight`))}
`;
}

/**
 * Adjoint of one LSTM step after the recomputed forward (c_state = c_t, c_prev = c_{t-1}). Given dh = ∂L/∂h_t and
 * dc_carry = ∂L/∂c_t from later steps, sets `blocks` (the gates' pre-activation adjoints in the order `gates`: lwin's
 * i, f, o, g, or PyTorch's row order i, f, g, o), `dh_prev` and the new `dc_carry`. `u(gate)` is the offset of that
 * gate's recurrent matrix.
 */
export function lstmBackwardStep(c: StepContext, gates: readonly string[] = ['i', 'f', 'o', 'g'], u: (gate: string) => string = (gate) => c.o(`U${gate}.weight`)): string {
  const columns = gates.map((gate) => ({ value: `da_${gate}`, u: u(gate) }));
  return /* wgsl */ `
  let dct = dc_carry + dh * go * tc_slope;
  let da_i = select(V(0.0), dct * g * gi * gic, live);
  let da_f = select(V(0.0), dct * c_prev * gf * gfc, live);
  let da_o = select(V(0.0), dh * tc * go * goc, live);
${candidateBackward(c, 'dct * gi')}
  dc_carry = select(V(0.0), dct * gf, live);
${columnProducts(columns, c.resident ?? 4, 'dh_u')}
  let dh_prev = select(V(0.0), dh_u, live);
  var blocks: array<V, 4>;
${gates.map((gate, i) => `  blocks[${i}] = da_${gate};`).join('\n')}
`;
}
