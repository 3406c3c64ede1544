// torch_lstm (SPEC §13, torch.nn.LSTM), row blocks i, f, g, o; a = W_ih x + b_ih + W_hh h + b_hh:
//   i, f, o = σ(a_i), σ(a_f), σ(a_o),  g = tanh(a_g),  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
// (lwin's lstm without LayerNorm; only b_ih + b_hh matters, so the two biases receive the same gradient.)
import { sigmoid, sigmoidSlope, tanhSlope } from '../math.ts';
import type { RecurrentState } from '../types.ts';
import type { TorchLayerParams } from './config.ts';
import { project, projectBackward, projectTangent, recurrentDiagonal } from './projections.ts';
import type { TorchCellReference, TorchStepRecord } from './types.ts';

const [I, F, G, O] = [0, 1, 2, 3];

export interface TorchLstmRecord extends TorchStepRecord {
  i: Float64Array;
  f: Float64Array;
  g: Float64Array;
  o: Float64Array;
  /** tanh(c'). */
  cellActivation: Float64Array;
}

function cellState(state: RecurrentState, what: string): Float64Array {
  if (!state.c) throw new Error(`torch_lstm ${what} needs the cell state c`);
  return state.c;
}

export const torchLstmCell: TorchCellReference<TorchLstmRecord> = {
  cell: 'torch_lstm',
  termNames: ['f', 'e', 'cdiag'],

  step(p: TorchLayerParams, x: Float64Array, prev: RecurrentState): TorchLstmRecord {
    const cp = cellState(prev, 'step');
    const hidden = cp.length;
    const { gi, gh } = project(p, x, prev.h);
    const gate = (k: number, act: (a: number) => number) => cp.map((_, q) => act(gi[k * hidden + q]! + gh[k * hidden + q]!));
    const [i, f, g, o] = [gate(I, sigmoid), gate(F, sigmoid), gate(G, Math.tanh), gate(O, sigmoid)];
    const c = cp.map((v, q) => f[q]! * v + i[q]! * g[q]!);
    const cellActivation = c.map(Math.tanh);
    const h = o.map((v, q) => v * cellActivation[q]!);
    return { x, prev, next: { h, c }, i, f, g, o, cellActivation };
  },

  diagonalTerms(p: TorchLayerParams, rec: TorchLstmRecord) {
    const { i, f, g, o } = rec;
    const cp = cellState(rec.prev, 'diagonalTerms');
    const hidden = cp.length;
    const [wi, wf, wg] = [recurrentDiagonal(p, I, hidden), recurrentDiagonal(p, F, hidden), recurrentDiagonal(p, G, hidden)];
    const [iSlope, fSlope, gSlope, cSlope] = [sigmoidSlope(i), sigmoidSlope(f), tanhSlope(g), tanhSlope(rec.cellActivation)];
    // SPEC §4 (lstm) with SPEC §13's weights: e = o (1 - tanh² c'), cdiag = c f(1-f) W_hf,qq + i (1-g²) W_hg,qq + g i(1-i) W_hi,qq
    const e = o.map((v, q) => v * cSlope[q]!);
    const cdiag = cp.map((c, q) => c * fSlope[q]! * wf[q]! + i[q]! * gSlope[q]! * wg[q]! + g[q]! * iSlope[q]! * wi[q]!);
    return { f: Float64Array.from(f), e, cdiag };
  },

  backward(p: TorchLayerParams, grad: TorchLayerParams | null, rec: TorchLstmRecord, adjoint: RecurrentState) {
    const dh = adjoint.h;
    const dc = cellState(adjoint, 'backward');
    const { i, f, g, o } = rec;
    const cp = cellState(rec.prev, 'backward');
    const tc = rec.cellActivation;
    const hidden = cp.length;
    const [iSlope, fSlope, gSlope, oSlope] = [sigmoidSlope(i), sigmoidSlope(f), tanhSlope(g), sigmoidSlope(o)];
    // Total ∂L/∂c': from later steps (dc) and through h' = o tanh(c').
    const dcTotal = dc.map((v, q) => v + dh[q]! * o[q]! * (1 - tc[q]! * tc[q]!));
    const da = new Float64Array(4 * hidden);
    for (let q = 0; q < hidden; q++) {
      da[I * hidden + q] = dcTotal[q]! * g[q]! * iSlope[q]!;
      da[F * hidden + q] = dcTotal[q]! * cp[q]! * fSlope[q]!;
      da[G * hidden + q] = dcTotal[q]! * i[q]! * gSlope[q]!;
      da[O * hidden + q] = dh[q]! * tc[q]! * oSlope[q]!;
    }
    const dhPrev = new Float64Array(hidden);
    const dx = projectBackward(p, grad, rec.x, rec.prev.h, da, da, dhPrev);
    return { state: { h: dhPrev, c: dcTotal.map((v, q) => v * f[q]!) }, x: dx };
  },

  tangent(p: TorchLayerParams, dir: TorchLayerParams | null, rec: TorchLstmRecord, prevTangent: RecurrentState, xDot: Float64Array | null): RecurrentState {
    const { i, f, g, o } = rec;
    const cp = cellState(rec.prev, 'tangent');
    const up = cellState(prevTangent, 'tangent');
    const tc = rec.cellActivation;
    const hidden = cp.length;
    const { gi, gh } = projectTangent(p, dir, rec.x, rec.prev.h, xDot, prevTangent.h);
    const aDot = (k: number, q: number) => gi[k * hidden + q]! + gh[k * hidden + q]!;
    const [iSlope, fSlope, gSlope, oSlope] = [sigmoidSlope(i), sigmoidSlope(f), tanhSlope(g), sigmoidSlope(o)];
    const cDot = cp.map((c, q) => fSlope[q]! * aDot(F, q) * c + f[q]! * up[q]! + iSlope[q]! * aDot(I, q) * g[q]! + i[q]! * gSlope[q]! * aDot(G, q));
    const hDot = o.map((v, q) => oSlope[q]! * aDot(O, q) * tc[q]! + v * (1 - tc[q]! * tc[q]!) * cDot[q]!);
    return { h: hDot, c: cDot };
  },
};
