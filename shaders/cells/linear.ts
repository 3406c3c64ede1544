// The linear cell (SPEC §12): h' = Wh h + Wx x + Wx.bias. No gate, no nonlinearity, no LayerNorm: the state map is
// its own pre-activation a, and its Jacobian is Wh, so SPEC §4's one term is the signed Wh_qq (`leak`).
import { columnProducts, pairPre, type StepContext } from './step-context.ts';

export function linearForwardStep(c: StepContext): string {
  return /* wgsl */ `
  let h_new = ${pairPre(c, 'Wx', 'Wh')};
  var terms: array<V, 4>;
  terms[0] = pdiag(${c.o('Wh.weight')});
`;
}

/** Adjoint of one linear step: ∂L/∂a = ∂L/∂h_t (block 0), and `dh_prev` = Whᵀ ∂L/∂h_t. */
export function linearBackwardStep(c: StepContext): string {
  return /* wgsl */ `
  let da = select(V(0.0), dh, live);
${columnProducts([{ value: 'da', u: c.o('Wh.weight') }], c.resident ?? 4, 'dh_u')}
  let dh_prev = select(V(0.0), dh_u, live);
  var blocks: array<V, 4>;
  blocks[0] = da;
`;
}

/** Tangent of one linear step: v' = Ẇx x + ḃx + Ẇh h + Wh v (+ Wx ẋ with an input tangent, through dotd_x). */
export function linearTangentStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  let v_new = select(V(0.0), pair_tangent(${o('Wx.weight')}, ${o('Wx.bias')}, ${o('Wh.weight')}), live);
`;
}
