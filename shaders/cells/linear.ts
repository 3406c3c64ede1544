// The linear cell (SPEC §12): h' = Wh h + Wx x + Wx.bias. No gate, no nonlinearity, no LayerNorm: the state map is
// its own pre-activation a, and its Jacobian is Wh, so SPEC §4's one term is the signed Wh_qq (`leak`).
import type { StepContext } from './step-context.ts';

export function linearForwardStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  var h_new = 0.0;
  if (live) { h_new = P[${o('Wx.bias')} + q] + dot_x(${o('Wx.weight')} + q * params.D, s) + dot_h(${o('Wh.weight')} + q * params.H, s); }
  var terms: array<f32, 4>;
  if (live) { terms[0] = P[${o('Wh.weight')} + q * params.H + q]; }
`;
}

/** Adjoint of one linear step: ∂L/∂a = ∂L/∂h_t (block 0), and `dh_prev` = Whᵀ ∂L/∂h_t. */
export function linearBackwardStep(c: StepContext): string {
  return /* wgsl */ `
  let da = select(0.0, dh, live);
  dbuf[lid] = da;
  workgroupBarrier();
  var dh_prev = 0.0;
  if (live) { dh_prev = dot_col_d(${c.o('Wh.weight')}, q, s, 0u); }
  var blocks: array<f32, 4>;
  blocks[0] = da;
`;
}

/** Tangent of one linear step: v' = Ẇx x + ḃx + Ẇh h + Wh v (+ Wx ẋ with an input tangent, through dotd_x). */
export function linearTangentStep(c: StepContext): string {
  const { o } = c;
  return /* wgsl */ `
  var v_new = 0.0;
  if (live) { v_new = pair_tangent(${o('Wx.weight')}, ${o('Wx.bias')}, ${o('Wh.weight')}, q, s); }
`;
}
