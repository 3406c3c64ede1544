// The leaky-interpolation family shared by const, shared and diag (SPEC §2):
//   g = tanh(LN(Wx x + Wx.bias + Wh h)),   h' = (1-s) ⊙ h + s ⊙ g
// The cells differ only in their gate s, supplied as a LeakyGate (const.ts, shared.ts, diag.ts).
import type { CellKind } from '../cells.ts';
import { LAYERNORM_PREFIX } from '../cells.ts';
import { candidateBackward, candidateForward, candidateTangent, pairBackward, pairForward, pairTangent, type Candidate, type LayerPair } from './affine.ts';
import { diagonal, tanhSlope } from './math.ts';
import type { CellReference, IntermediateValues, Params, RecurrentState, StepRecord } from './types.ts';

export const CANDIDATE_LAYERS: LayerPair = { input: 'Wx', recurrent: 'Wh' };

/** The gate of one step, per unit (a shared scalar gate is broadcast to H). */
export interface GateValues {
  /** s [H]. */
  s: Float64Array;
  /** σ'(a_s) [H] (0 for the const cell). */
  slope: Float64Array;
  /** ∂a_s,q/∂h_q [H]: Us_q (shared), Us_qq (diag), 0 (const); the gate's part of rdiag (SPEC §4). */
  recurrentDiagonal: Float64Array;
  /** a_s, the gate pre-activation(s): [1] shared, [H] diag, [0] const. */
  preActivation: Float64Array;
}

export interface LeakyGate {
  forward(p: Params, x: Float64Array, hPrev: Float64Array): GateValues;
  /** Adds the gate parameters' gradient from ∂L/∂s [H] into `grad`, and the gate's share of ∂L/∂h_prev into dhPrev. */
  backward(p: Params, grad: Params, x: Float64Array, hPrev: Float64Array, gate: GateValues, ds: Float64Array, dhPrev: Float64Array): void;
  /** ṡ [H] along `dir` given ḣ_prev. */
  tangent(p: Params, dir: Params, x: Float64Array, hPrev: Float64Array, hPrevDot: Float64Array, gate: GateValues): Float64Array;
}

export interface LeakyRecord extends StepRecord {
  gate: GateValues;
  candidate: Candidate;
}

export function leakyCell(kind: CellKind, gate: LeakyGate): CellReference<LeakyRecord> {
  const lnPrefix = LAYERNORM_PREFIX[kind];
  return {
    kind,

    step(p: Params, x: Float64Array, prev: RecurrentState): LeakyRecord {
      const hp = prev.h;
      const gateValues = gate.forward(p, x, hp);
      const candidate = candidateForward(p, lnPrefix, pairForward(p, CANDIDATE_LAYERS, x, hp));
      const s = gateValues.s;
      const h = hp.map((v, q) => (1 - s[q]!) * v + s[q]! * candidate.g[q]!);
      return { x, prev, next: { h }, gate: gateValues, candidate };
    },

    intermediates(p: Params, rec: LeakyRecord): IntermediateValues {
      const { s, slope, recurrentDiagonal } = rec.gate;
      const g = rec.candidate.g;
      const hp = rec.prev.h;
      const whDiag = diagonal(p.get('Wh.weight'), hp.length);
      const gSlope = tanhSlope(g);
      // SPEC §4: rdiag = (g - h_prev) σ'(a_s) Us_q + s (1-g²) Wh_qq  (const: the first term is 0)
      const rdiag = g.map((gq, q) => (gq - hp[q]!) * slope[q]! * recurrentDiagonal[q]! + s[q]! * gSlope[q]! * whDiag[q]!);
      return { gate: Float64Array.from(s), leak: s.map((v) => 1 - v), rdiag };
    },

    backward(p: Params, grad: Params, rec: LeakyRecord, adjoint: RecurrentState): RecurrentState {
      const dh = adjoint.h;
      const { x } = rec;
      const hp = rec.prev.h;
      const { s } = rec.gate;
      const g = rec.candidate.g;
      const dhPrev = dh.map((v, q) => (1 - s[q]!) * v);
      const ds = dh.map((v, q) => v * (g[q]! - hp[q]!));
      const dg = dh.map((v, q) => v * s[q]!);
      const da = candidateBackward(p, grad, lnPrefix, rec.candidate, dg);
      pairBackward(p, grad, CANDIDATE_LAYERS, x, hp, da, dhPrev);
      gate.backward(p, grad, x, hp, rec.gate, ds, dhPrev);
      return { h: dhPrev };
    },

    tangent(p: Params, dir: Params, rec: LeakyRecord, prevTangent: RecurrentState): RecurrentState {
      const { x } = rec;
      const hp = rec.prev.h;
      const vp = prevTangent.h;
      const { s } = rec.gate;
      const g = rec.candidate.g;
      const sDot = gate.tangent(p, dir, x, hp, vp, rec.gate);
      const gDot = candidateTangent(p, dir, lnPrefix, rec.candidate, pairTangent(p, dir, CANDIDATE_LAYERS, x, hp, vp));
      // d[(1-s)h + s g] = (1-s) ḣ + ṡ (g - h) + s ġ
      const v = vp.map((vq, q) => (1 - s[q]!) * vq + sDot[q]! * (g[q]! - hp[q]!) + s[q]! * gDot[q]!);
      return { h: v };
    },
  };
}
