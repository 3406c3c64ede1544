// lstm cell (SPEC §2):
//   i, f, o = σ(W· x + U· h),  g = tanh(LN(Wg x + Ug h)),  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
import { LAYERNORM_PREFIX } from '../cells.ts';
import { candidateBackward, candidateForward, candidateTangent, pairBackward, pairForward, pairTangent, type Candidate, type LayerPair } from './affine.ts';
import { diagonal, sigmoidSlope, sigmoidVec, tanhSlope } from './math.ts';
import type { CellReference, IntermediateValues, Params, RecurrentState, StepRecord } from './types.ts';

const INPUT: LayerPair = { input: 'Wi', recurrent: 'Ui' };
const FORGET: LayerPair = { input: 'Wf', recurrent: 'Uf' };
const OUTPUT: LayerPair = { input: 'Wo', recurrent: 'Uo' };
const CANDIDATE: LayerPair = { input: 'Wg', recurrent: 'Ug' };
const LN = LAYERNORM_PREFIX.lstm;

export interface LstmRecord extends StepRecord {
  i: Float64Array;
  f: Float64Array;
  o: Float64Array;
  candidate: Candidate;
  /** tanh(c_t). */
  cellActivation: Float64Array;
}

function cellState(state: RecurrentState, what: string): Float64Array {
  if (!state.c) throw new Error(`lstm ${what} needs the cell state c`);
  return state.c;
}

export const lstmCell: CellReference<LstmRecord> = {
  kind: 'lstm',

  step(p: Params, x: Float64Array, prev: RecurrentState): LstmRecord {
    const hp = prev.h;
    const cp = cellState(prev, 'step');
    const i = sigmoidVec(pairForward(p, INPUT, x, hp));
    const f = sigmoidVec(pairForward(p, FORGET, x, hp));
    const o = sigmoidVec(pairForward(p, OUTPUT, x, hp));
    const candidate = candidateForward(p, LN, pairForward(p, CANDIDATE, x, hp));
    const c = cp.map((v, q) => f[q]! * v + i[q]! * candidate.g[q]!);
    const cellActivation = c.map(Math.tanh);
    const h = o.map((v, q) => v * cellActivation[q]!);
    return { x, prev, next: { h, c }, i, f, o, candidate, cellActivation };
  },

  intermediates(p: Params, rec: LstmRecord): IntermediateValues {
    const { i, f, o } = rec;
    const g = rec.candidate.g;
    const cp = cellState(rec.prev, 'intermediates');
    const n = cp.length;
    const [uf, ug, ui] = [diagonal(p.get('Uf.weight'), n), diagonal(p.get('Ug.weight'), n), diagonal(p.get('Ui.weight'), n)];
    const [iSlope, fSlope, gSlope, cSlope] = [sigmoidSlope(i), sigmoidSlope(f), tanhSlope(g), tanhSlope(rec.cellActivation)];
    // SPEC §4: e = o (1 - tanh² c),  cdiag = c_prev f(1-f) Uf_qq + i (1-g²) Ug_qq + g i(1-i) Ui_qq
    const e = o.map((v, q) => v * cSlope[q]!);
    const cdiag = cp.map((cq, q) => cq * fSlope[q]! * uf[q]! + i[q]! * gSlope[q]! * ug[q]! + g[q]! * iSlope[q]! * ui[q]!);
    return { f: Float64Array.from(f), e, cdiag };
  },

  backward(p: Params, grad: Params, rec: LstmRecord, adjoint: RecurrentState): RecurrentState {
    const dh = adjoint.h;
    const dc = cellState(adjoint, 'backward');
    const { x, i, f, o } = rec;
    const hp = rec.prev.h;
    const cp = cellState(rec.prev, 'backward');
    const g = rec.candidate.g;
    const tc = rec.cellActivation;
    // Total ∂L/∂c_t: from later steps (dc) and through h_t = o tanh(c_t).
    const dcTotal = dc.map((v, q) => v + dh[q]! * o[q]! * (1 - tc[q]! * tc[q]!));
    const [iSlope, fSlope, oSlope] = [sigmoidSlope(i), sigmoidSlope(f), sigmoidSlope(o)];
    const dhPrev = new Float64Array(hp.length);
    pairBackward(p, grad, INPUT, x, hp, dcTotal.map((v, q) => v * g[q]! * iSlope[q]!), dhPrev);
    pairBackward(p, grad, FORGET, x, hp, dcTotal.map((v, q) => v * cp[q]! * fSlope[q]!), dhPrev);
    pairBackward(p, grad, OUTPUT, x, hp, dh.map((v, q) => v * tc[q]! * oSlope[q]!), dhPrev);
    const dag = candidateBackward(p, grad, LN, rec.candidate, dcTotal.map((v, q) => v * i[q]!));
    pairBackward(p, grad, CANDIDATE, x, hp, dag, dhPrev);
    return { h: dhPrev, c: dcTotal.map((v, q) => v * f[q]!) };
  },

  tangent(p: Params, dir: Params, rec: LstmRecord, prevTangent: RecurrentState): RecurrentState {
    const { x, i, f, o } = rec;
    const hp = rec.prev.h;
    const cp = cellState(rec.prev, 'tangent');
    const vp = prevTangent.h;
    const up = cellState(prevTangent, 'tangent');
    const g = rec.candidate.g;
    const tc = rec.cellActivation;
    const [iSlope, fSlope, oSlope] = [sigmoidSlope(i), sigmoidSlope(f), sigmoidSlope(o)];
    const iDot = pairTangent(p, dir, INPUT, x, hp, vp).map((v, q) => v * iSlope[q]!);
    const fDot = pairTangent(p, dir, FORGET, x, hp, vp).map((v, q) => v * fSlope[q]!);
    const oDot = pairTangent(p, dir, OUTPUT, x, hp, vp).map((v, q) => v * oSlope[q]!);
    const gDot = candidateTangent(p, dir, LN, rec.candidate, pairTangent(p, dir, CANDIDATE, x, hp, vp));
    const cDot = up.map((uq, q) => fDot[q]! * cp[q]! + f[q]! * uq + iDot[q]! * g[q]! + i[q]! * gDot[q]!);
    const hDot = oDot.map((v, q) => v * tc[q]! + o[q]! * (1 - tc[q]! * tc[q]!) * cDot[q]!);
    return { h: hDot, c: cDot };
  },
};
