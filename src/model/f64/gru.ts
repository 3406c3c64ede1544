// gru cell (SPEC §2):
//   z = σ(Wz x + Uz h),  r = σ(Wr x + Ur h),  g = tanh(LN(Wh x + Uh (r ⊙ h))),  h' = (1-z) ⊙ h + z ⊙ g
import { LAYERNORM_PREFIX } from '../cells.ts';
import { candidateBackward, candidateForward, candidateTangent, pairBackward, pairForward, pairTangent, type Candidate, type LayerPair } from './affine.ts';
import { diagonal, sigmoidSlope, sigmoidVec, tanhSlope } from './math.ts';
import type { CellReference, IntermediateValues, Params, RecurrentState, StepRecord } from './types.ts';

const UPDATE: LayerPair = { input: 'Wz', recurrent: 'Uz' };
const RESET: LayerPair = { input: 'Wr', recurrent: 'Ur' };
const CANDIDATE: LayerPair = { input: 'Wh', recurrent: 'Uh' };
const LN = LAYERNORM_PREFIX.gru;

export interface GruRecord extends StepRecord {
  z: Float64Array;
  r: Float64Array;
  /** r ⊙ h_prev, the input of Uh. */
  resetState: Float64Array;
  candidate: Candidate;
}

export const gruCell: CellReference<GruRecord> = {
  kind: 'gru',

  step(p: Params, x: Float64Array, prev: RecurrentState): GruRecord {
    const hp = prev.h;
    const z = sigmoidVec(pairForward(p, UPDATE, x, hp));
    const r = sigmoidVec(pairForward(p, RESET, x, hp));
    const resetState = r.map((v, q) => v * hp[q]!);
    const candidate = candidateForward(p, LN, pairForward(p, CANDIDATE, x, resetState));
    const h = hp.map((v, q) => (1 - z[q]!) * v + z[q]! * candidate.g[q]!);
    return { x, prev, next: { h }, z, r, resetState, candidate };
  },

  intermediates(p: Params, rec: GruRecord): IntermediateValues {
    const { z, r } = rec;
    const hp = rec.prev.h;
    const n = hp.length;
    const g = rec.candidate.g;
    const [uz, ur, uh] = [diagonal(p.get('Uz.weight'), n), diagonal(p.get('Ur.weight'), n), diagonal(p.get('Uh.weight'), n)];
    const [zSlope, rSlope, gSlope] = [sigmoidSlope(z), sigmoidSlope(r), tanhSlope(g)];
    // SPEC §4: rdiag = (g - h_prev) z(1-z) Uz_qq + z (1-g²) Uh_qq (r + h_prev r(1-r) Ur_qq)
    const rdiag = g.map((gq, q) => (gq - hp[q]!) * zSlope[q]! * uz[q]! + z[q]! * gSlope[q]! * uh[q]! * (r[q]! + hp[q]! * rSlope[q]! * ur[q]!));
    return { gate: Float64Array.from(z), leak: z.map((v) => 1 - v), rdiag, r: Float64Array.from(r) };
  },

  backward(p: Params, grad: Params, rec: GruRecord, adjoint: RecurrentState): RecurrentState {
    const dh = adjoint.h;
    const { x, z, r } = rec;
    const hp = rec.prev.h;
    const g = rec.candidate.g;
    const dhPrev = dh.map((v, q) => (1 - z[q]!) * v);
    const dz = dh.map((v, q) => v * (g[q]! - hp[q]!));
    const dg = dh.map((v, q) => v * z[q]!);
    const da = candidateBackward(p, grad, LN, rec.candidate, dg);
    const dResetState = new Float64Array(hp.length);
    pairBackward(p, grad, CANDIDATE, x, rec.resetState, da, dResetState);
    for (let q = 0; q < hp.length; q++) dhPrev[q] = dhPrev[q]! + dResetState[q]! * r[q]!;
    const zSlope = sigmoidSlope(z);
    const rSlope = sigmoidSlope(r);
    pairBackward(p, grad, RESET, x, hp, dResetState.map((v, q) => v * hp[q]! * rSlope[q]!), dhPrev);
    pairBackward(p, grad, UPDATE, x, hp, dz.map((v, q) => v * zSlope[q]!), dhPrev);
    return { h: dhPrev };
  },

  tangent(p: Params, dir: Params, rec: GruRecord, prevTangent: RecurrentState): RecurrentState {
    const { x, z, r } = rec;
    const hp = rec.prev.h;
    const vp = prevTangent.h;
    const g = rec.candidate.g;
    const zSlope = sigmoidSlope(z);
    const rSlope = sigmoidSlope(r);
    const zDot = pairTangent(p, dir, UPDATE, x, hp, vp).map((v, q) => v * zSlope[q]!);
    const rDot = pairTangent(p, dir, RESET, x, hp, vp).map((v, q) => v * rSlope[q]!);
    const resetStateDot = rDot.map((v, q) => v * hp[q]! + r[q]! * vp[q]!);
    const gDot = candidateTangent(p, dir, LN, rec.candidate, pairTangent(p, dir, CANDIDATE, x, rec.resetState, resetStateDot));
    const v = vp.map((vq, q) => (1 - z[q]!) * vq + zDot[q]! * (g[q]! - hp[q]!) + z[q]! * gDot[q]!);
    return { h: v };
  },
};
