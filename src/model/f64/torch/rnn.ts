// rnn (SPEC §13, torch.nn.RNN): h' = φ(W_ih x + b_ih + W_hh h + b_hh), φ = tanh or ReLU.
import type { RecurrentState } from '../types.ts';
import type { TorchLayerParams, TorchNonlinearity } from './config.ts';
import { project, projectBackward, projectTangent, recurrentDiagonal } from './projections.ts';
import type { TorchCellReference, TorchStepRecord } from './types.ts';

export interface RnnRecord extends TorchStepRecord {
  /** φ'(a) [H], from h' (tanh: 1 - h'²; ReLU: 1 where h' > 0, as torch's threshold backward). */
  slope: Float64Array;
}

export function rnnCell(nonlinearity: TorchNonlinearity): TorchCellReference<RnnRecord> {
  const activate = nonlinearity === 'tanh' ? Math.tanh : (a: number) => (a > 0 ? a : 0);
  const slopeOf = nonlinearity === 'tanh' ? (h: number) => 1 - h * h : (h: number) => (h > 0 ? 1 : 0);
  return {
    cell: 'rnn',
    termNames: ['d'],

    step(p: TorchLayerParams, x: Float64Array, prev: RecurrentState): RnnRecord {
      const { gi, gh } = project(p, x, prev.h);
      const h = gi.map((v, q) => activate(v + gh[q]!));
      return { x, prev, next: { h }, slope: h.map(slopeOf) };
    },

    diagonalTerms(p: TorchLayerParams, rec: RnnRecord) {
      // SPEC §13: no gate; the whole diagonal d = φ'(a)_q W_hh,qq.
      const w = recurrentDiagonal(p, 0, rec.slope.length);
      return { d: rec.slope.map((s, q) => s * w[q]!) };
    },

    backward(p: TorchLayerParams, grad: TorchLayerParams | null, rec: RnnRecord, adjoint: RecurrentState) {
      const da = adjoint.h.map((v, q) => v * rec.slope[q]!);
      const dhPrev = new Float64Array(da.length);
      const dx = projectBackward(p, grad, rec.x, rec.prev.h, da, da, dhPrev);
      return { state: { h: dhPrev }, x: dx };
    },

    tangent(p: TorchLayerParams, dir: TorchLayerParams | null, rec: RnnRecord, prevTangent: RecurrentState, xDot: Float64Array | null): RecurrentState {
      const { gi, gh } = projectTangent(p, dir, rec.x, rec.prev.h, xDot, prevTangent.h);
      return { h: gi.map((v, q) => (v + gh[q]!) * rec.slope[q]!) };
    },
  };
}
