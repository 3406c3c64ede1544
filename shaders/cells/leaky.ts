// The leaky cells const, shared and diag (SPEC §2): g = tanh(LN(Wx x + Wh h)), h' = (1-s) h + s g, with
//   const:  s a fixed scalar (the `s_const` buffer);
//   shared: s = σ(Ws x + Us h), one scalar per sequence;
//   diag:   s = σ(Ws x + Us h) ∈ R^H.
// SPEC §4 terms: leak = 1-s, rdiag = (g - h_prev) σ'(a_s) Us_qq + s (1-g²) Wh_qq (first term absent for const).
import { columnProducts, candidateBackward, candidateNorm, candidatePre, pairPre, type StepContext } from './step-context.ts';

export function leakyForwardStep(c: StepContext): string {
  const { cell, o } = c;
  // shared's gate sums Us ⊙ h_{t-1} over units; with LayerNorm beside its mean (candidateNorm).
  const gateTerms = `select(V(0.0), pu(${o('Us.weight')}) * hq, live)`;
  const gateSum = cell === 'shared' && c.layernorm ? { name: 'gate_sum', value: gateTerms } : undefined;
  const gate =
    cell === 'const'
      ? `let a_s = V(0.0);\n  let sg = V(P[${o('s_const')}]);\n  let sgc = 1.0 - sg; // a fixed parameter, not a saturating σ`
      : cell === 'shared'
        ? `let a_s = pre_seq(V(P[${o('Ws.bias')}]) + row_x0(${o('Ws.weight')}) + ${gateSum ? gateSum.name : `unit_sum(${gateTerms})`});
  let sg = sigmoid(a_s);
  let sgc = sigmoid(-a_s);`
        : `let a_s = ${pairPre(c, 'Ws', 'Us')};
  let sg = sigmoid(a_s);
  let sgc = sigmoid(-a_s);`;
  const usDiag = cell === 'shared' ? `pu(${o('Us.weight')})` : `pdiag(${o('Us.weight')})`;
  const gateTerm = cell === 'const' ? 'V(0.0)' : `g_gap * sg * sgc * ${usDiag}`;
  // g - h_{t-1}, what the gate's adjoint needs of g and h_{t-1}: kept by the training forward, so that the replayed
  // backward step computes neither tanh nor loads h_{t-1} (shaders/cells/replay.ts). const has no gate.
  const gap = cell === 'const' ? '' : '\n  let g_gap = replayed(g - hq);';
  return /* wgsl */ `
  var a_g = ${candidatePre(c, 'Wx', 'Wh')};
${candidateNorm(c, gateSum)}
  let g = tanh_c(a_g);
  let g_slope = tanh_slope(a_g);${gap}
  ${gate}
  let h_new = sgc * hq + sg * g;
  var terms: array<V, 4>;
  terms[0] = sg;
  terms[1] = sgc;
  terms[2] = ${gateTerm} + sg * g_slope * pdiag(${o('Wh.weight')});
`;
}

/**
 * Adjoint of one leaky step, after the forward step has been recomputed. Given `dh` = ∂L/∂h_t, sets the gate
 * blocks' pre-activation adjoints (block 0: candidate a_g; block 1: gate a_s, shared's scalar the same on every unit)
 * and `dh_prev` = ∂L/∂h_{t-1}.
 */
export function leakyBackwardStep(c: StepContext): string {
  const { cell, o } = c;
  const resident = c.resident ?? 4;
  // shared's gate sums over units (candidateBackward takes the sum, beside LayerNorm's).
  const gate =
    cell === 'const'
      ? 'let da_s = V(0.0);'
      : cell === 'shared'
        ? 'let da_s = dgate_sum * sg * sgc;'
        : 'let da_s = select(V(0.0), dh * g_gap * sg * sgc, live);';
  const columns = [{ value: 'da_g', u: o('Wh.weight') }, ...(cell === 'diag' ? [{ value: 'da_s', u: o('Us.weight') }] : [])];
  const gatePath = cell === 'shared' ? ` + da_s * pu(${o('Us.weight')})` : '';
  return /* wgsl */ `
${candidateBackward(c, 'dh * sg', cell === 'shared' ? { name: 'dgate_sum', value: 'select(V(0.0), dh * g_gap, live)' } : undefined)}
  ${gate}
${columnProducts(columns, resident, 'dh_u')}
  let dh_prev = select(V(0.0), dh * sgc + dh_u${gatePath}, live);
  var blocks: array<V, 4>;
  blocks[0] = da_g;
  blocks[1] = da_s; // shared's: the same on every unit, written on unit 0 alone (backward.ts FIRST_UNIT_BLOCKS)
`;
}
