// PyTorch's stock layers (SPEC §13) as tile cell snippets, under PyTorch's equations and state_dict names. Layer 0's
// tensors weight_ih_l0 [G·H, D], weight_hh_l0 [G·H, H], bias_ih_l0 and bias_hh_l0 [G·H] hold G row blocks of H rows
// each (rnn: h; torch_gru: r, z, n; torch_lstm: i, f, g, o), so gate g's rows start g·H rows into each tensor.
//   rnn:        h' = φ(a), a = W_ih x + b_ih + W_hh h + b_hh, φ = tanh (rnn) or ReLU (rnn_relu)
//   torch_gru:  r, z = σ(a_r), σ(a_z); m = W_hn h + b_hn; n = tanh(W_in x + b_in + r ⊙ m); h' = (1-z) n + z h
//   torch_lstm: i, f, o = σ(a_·), g = tanh(a_g), c' = f c + i g, h' = o tanh(c')
// SPEC §13 terms: rnn leak = d = φ'(a) W_hh,qq; torch_gru gate = 1-z, leak = z,
// rdiag = (h - n) z(1-z) W_hz,qq + (1-z)(1-n²)(r W_hn,qq + m r(1-r) W_hr,qq); torch_lstm as lstm (f, e, cdiag).
import { TORCH_GATES, type TorchCellKind } from '../../src/model/cells.ts';
import { columnProducts, type StepContext } from './step-context.ts';
import { lstmBackwardStep, lstmUpdate } from './lstm.ts';
import { lstmTangentStep } from './tangent/lstm.ts';

/** WGSL offset of gate `gate`'s block in one of layer 0's tensors. */
function at(c: StepContext, kind: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh', gate: string): string {
  const g = TORCH_GATES[c.cell as TorchCellKind].indexOf(gate);
  if (g < 0) throw new Error(`${c.cell} has no gate block "${gate}"`);
  const rowWidth = kind === 'weight_ih' ? ' * params.D' : kind === 'weight_hh' ? ' * params.H' : '';
  return g === 0 ? c.o(`${kind}_l0`) : `(${c.o(`${kind}_l0`)} + ${g}u * params.H${rowWidth})`;
}

/** a_g = W_ig x + b_ig + W_hg h + b_hg for gate g, kept and replayed as one value (pre_sum: step-context.ts pairPre). */
function gatePre(c: StepContext, gate: string): string {
  return `pre_sum(pu(${at(c, 'bias_ih', gate)}) + pu(${at(c, 'bias_hh', gate)}) + row_x(${at(c, 'weight_ih', gate)}) + row_h(${at(c, 'weight_hh', gate)}))`;
}

function rnnActivation(c: StepContext): { value: string; slope: string } {
  return c.cell === 'rnn_relu' ? { value: 'max(a, V(0.0))', slope: 'select(V(0.0), V(1.0), a > V(0.0))' } : { value: 'tanh_c(a)', slope: 'tanh_slope(a)' };
}

export function rnnForwardStep(c: StepContext): string {
  const phi = rnnActivation(c);
  return /* wgsl */ `
  let a = ${gatePre(c, 'h')};
  let h_new = ${phi.value};
  let slope = ${phi.slope};
  var terms: array<V, 4>;
  terms[0] = slope * pdiag(${at(c, 'weight_hh', 'h')});
`;
}

/** Adjoint of one rnn step: block 0 = ∂L/∂a, `dh_prev` = W_hhᵀ ∂L/∂a. */
export function rnnBackwardStep(c: StepContext): string {
  return /* wgsl */ `
  let da = select(V(0.0), dh * slope, live);
${columnProducts([{ value: 'da', u: at(c, 'weight_hh', 'h') }], c.resident ?? 4, 'dh_u')}
  let dh_prev = select(V(0.0), dh_u, live);
  var blocks: array<V, 4>;
  blocks[0] = da;
`;
}

export function torchGruForwardStep(c: StepContext): string {
  return /* wgsl */ `
  let a_r = ${gatePre(c, 'r')};
  let a_z = ${gatePre(c, 'z')};
  let m = pu(${at(c, 'bias_hh', 'n')}) + row_h(${at(c, 'weight_hh', 'n')});
  let r = sigmoid(a_r);
  let rc = sigmoid(-a_r);
  let z = sigmoid(a_z);
  let zc = sigmoid(-a_z);
  let a_n = pu(${at(c, 'bias_ih', 'n')}) + row_x(${at(c, 'weight_ih', 'n')}) + r * m;
  let n = tanh_c(a_n);
  let n_slope = tanh_slope(a_n);
  let h_new = zc * n + z * hq;
  var terms: array<V, 4>;
  terms[0] = zc;
  terms[1] = z;
  terms[2] = (hq - n) * z * zc * pdiag(${at(c, 'weight_hh', 'z')}) + zc * n_slope * (r * pdiag(${at(c, 'weight_hh', 'n')}) + m * r * rc * pdiag(${at(c, 'weight_hh', 'r')}));
`;
}

/**
 * Adjoint of one torch_gru step. Blocks: 0 = a_r, 1 = a_z, 2 = a_n (the input rows' adjoint), 3 = ∂L/∂m = r ∂L/∂a_n
 * (the hidden n rows' adjoint): weight_ih's gradient is blocks 0–2 against x, weight_hh's blocks 0, 1, 3 against h.
 */
export function torchGruBackwardStep(c: StepContext): string {
  return /* wgsl */ `
  let da_n = select(V(0.0), dh * zc * n_slope, live);
  let da_z = select(V(0.0), dh * (hq - n) * z * zc, live);
  let da_r = select(V(0.0), da_n * m * r * rc, live);
  let da_m = select(V(0.0), da_n * r, live);
${columnProducts([{ value: 'da_r', u: at(c, 'weight_hh', 'r') }, { value: 'da_z', u: at(c, 'weight_hh', 'z') }, { value: 'da_m', u: at(c, 'weight_hh', 'n') }], c.resident ?? 4, 'dh_u')}
  let dh_prev = select(V(0.0), dh * z + dh_u, live);
  var blocks: array<V, 4>;
  blocks[0] = da_r;
  blocks[1] = da_z;
  blocks[2] = da_n;
  blocks[3] = da_m;
`;
}

export function torchLstmForwardStep(c: StepContext): string {
  return /* wgsl */ `
  let a_i = ${gatePre(c, 'i')};
  let a_f = ${gatePre(c, 'f')};
  let a_g = ${gatePre(c, 'g')};
  let a_o = ${gatePre(c, 'o')};
${lstmUpdate((gate) => at(c, 'weight_hh', gate))}
`;
}

/** Adjoint of one torch_lstm step: lstm's (no LayerNorm), blocks in PyTorch's row order i, f, g, o (so each tensor's gradient is one sum). */
export function torchLstmBackwardStep(c: StepContext): string {
  return lstmBackwardStep({ ...c, layernorm: false }, ['i', 'f', 'g', 'o'], (gate) => at(c, 'weight_hh', gate));
}

export const TORCH_FORWARD_STEPS: Readonly<Record<TorchCellKind, (c: StepContext) => string>> = {
  rnn: rnnForwardStep, rnn_relu: rnnForwardStep, torch_gru: torchGruForwardStep, torch_lstm: torchLstmForwardStep,
};

export const TORCH_BACKWARD_STEPS: Readonly<Record<TorchCellKind, (c: StepContext) => string>> = {
  rnn: rnnBackwardStep, rnn_relu: rnnBackwardStep, torch_gru: torchGruBackwardStep, torch_lstm: torchLstmBackwardStep,
};

// Tangent kernel (the tile's helpers of shaders/cells/tangent/common.ts; hq, vq given). ȧ of gate g along Pd:
// ḃ_ig + ḃ_hg + Ẇ_ig x (+ W_ig ẋ) + Ẇ_hg h + W_hg v.
function gateTangent(c: StepContext, gate: string): string {
  return `pdu(${at(c, 'bias_ih', gate)}) + pdu(${at(c, 'bias_hh', gate)}) + dotd_x(${at(c, 'weight_ih', gate)}) + dot_hv(${at(c, 'weight_hh', gate)})`;
}

/** Tangent of one rnn step: v' = φ'(a) ȧ. */
export function rnnTangentStep(c: StepContext): string {
  return /* wgsl */ `
  let a_dot = select(V(0.0), ${gateTangent(c, 'h')}, live);
  let v_new = slope * a_dot;
`;
}

/** Tangent of one torch_gru step: ṁ = ḃ_hn + Ẇ_hn h + W_hn v, ȧ_n = ḃ_in + Ẇ_in x + ṙ m + r ṁ, v' = ż (h - n) + (1-z) ṅ + z v. */
export function torchGruTangentStep(c: StepContext): string {
  return /* wgsl */ `
  let ar_dot = select(V(0.0), ${gateTangent(c, 'r')}, live);
  let az_dot = select(V(0.0), ${gateTangent(c, 'z')}, live);
  let m_dot = select(V(0.0), pdu(${at(c, 'bias_hh', 'n')}) + dot_hv(${at(c, 'weight_hh', 'n')}), live);
  let an_in_dot = select(V(0.0), pdu(${at(c, 'bias_ih', 'n')}) + dotd_x(${at(c, 'weight_ih', 'n')}), live);
  let r_dot = r * rc * ar_dot;
  let z_dot = z * zc * az_dot;
  let n_dot = n_slope * (an_in_dot + r_dot * m + r * m_dot);
  let v_new = z_dot * (hq - n) + zc * n_dot + z * vq;
`;
}

/** Tangent of one torch_lstm step: lstm's (no LayerNorm) with PyTorch's pre-activation tangents. */
export function torchLstmTangentStep(c: StepContext): string {
  return lstmTangentStep({ ...c, layernorm: false }, (gate) => gateTangent(c, gate));
}

export const TORCH_TANGENT_STEPS: Readonly<Record<TorchCellKind, (c: StepContext) => string>> = {
  rnn: rnnTangentStep, rnn_relu: rnnTangentStep, torch_gru: torchGruTangentStep, torch_lstm: torchLstmTangentStep,
};

// ρ kernel (the tile's helpers of shaders/diagnostics/rho.ts): every parameter of these layers reaches h_q only through
// row q of some gate block (torch_gru's reset acts on m_q alone), so ∂h_q/∂θ is a sum of per-row terms, factor × rows.

/** Σ_p (∂a_q/∂θ_p)² (η_p/η̄, 1) over the input part (W_i· row q, b_i·) and the hidden part (W_h· row q, b_h·). */
function rates(c: StepContext, gate: string, part: 'ih' | 'hh' | 'both'): string {
  const ih = `p2_add(rate_u(${at(c, 'bias_ih', gate)}), rates_x(${at(c, 'weight_ih', gate)}))`;
  const hh = `p2_add(rate_u(${at(c, 'bias_hh', gate)}), rates_u(${at(c, 'weight_hh', gate)}, false))`;
  return part === 'ih' ? ih : part === 'hh' ? hh : `p2_add(${ih}, ${hh})`;
}

export interface TorchRho {
  code: string;
  terms: { factor: string; sum: string }[];
}

function rowSums(names: [string, string][]): string {
  return `
${names.map(([name, value]) => `  let ${name} = p2_live(${value}, live);`).join('\n')}`;
}

export function torchRho(c: StepContext): TorchRho {
  switch (c.cell as TorchCellKind) {
    case 'rnn':
    case 'rnn_relu':
      return { code: rowSums([['own_rates', rates(c, 'h', 'both')]]), terms: [{ factor: 'slope', sum: 'own_rates' }] };
    case 'torch_gru':
      // n - h with tanh_rel: the forward's tanh is only absolutely accurate near 0 (rho.ts)
      return {
        code: `${rowSums([['r_rates', rates(c, 'r', 'both')], ['z_rates', rates(c, 'z', 'both')], ['n_in_rates', rates(c, 'n', 'ih')], ['n_h_rates', rates(c, 'n', 'hh')]])}
  let n_rel = tanh_rel(a_n);`,
        terms: [
          { factor: '(hq - n_rel) * z * zc', sum: 'z_rates' },
          { factor: 'zc * n_slope', sum: 'n_in_rates' },
          { factor: 'zc * n_slope * r', sum: 'n_h_rates' },
          { factor: 'zc * n_slope * m * r * rc', sum: 'r_rates' },
        ],
      };
    case 'torch_lstm':
      return {
        code: `${rowSums(['i', 'f', 'g', 'o'].map((gate): [string, string] => [`${gate}_rates`, rates(c, gate, 'both')]))}
  let g_rel = tanh_rel(a_g);
  let c_rel = gf * c_prev + gi * g_rel;
  let tc_rel = tanh_rel(c_rel);
  let tc_slope_rel = tanh_slope(c_rel);`,
        terms: [
          { factor: 'go * tc_slope_rel * gi * g_slope', sum: 'g_rates' },
          { factor: 'go * tc_slope_rel * g_rel * gi * gic', sum: 'i_rates' },
          { factor: 'go * tc_slope_rel * c_prev * gf * gfc', sum: 'f_rates' },
          { factor: 'tc_rel * go * goc', sum: 'o_rates' },
        ],
      };
  }
}
