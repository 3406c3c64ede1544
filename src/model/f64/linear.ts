// linear cell (SPEC §12, the linear RNN of Proca et al., ICML 2025): h' = Wh h + Wx x + Wx.bias.
// Its one-step state Jacobian is Wh itself, so SPEC §4's retention term is the constant Wh_qq (`leak`, signed,
// never clamped) and there is no first-order term.
import { pairBackward, pairForward, pairTangent, type LayerPair } from './affine.ts';
import { diagonal } from './math.ts';
import type { CellReference, Params, RecurrentState, StepRecord } from './types.ts';

const LAYERS: LayerPair = { input: 'Wx', recurrent: 'Wh' };

export const linearCell: CellReference = {
  kind: 'linear',

  step(p: Params, x: Float64Array, prev: RecurrentState): StepRecord {
    return { x, prev, next: { h: pairForward(p, LAYERS, x, prev.h) } };
  },

  intermediates(p: Params, rec: StepRecord) {
    return { leak: diagonal(p.get('Wh.weight'), rec.prev.h.length) };
  },

  backward(p: Params, grad: Params, rec: StepRecord, adjoint: RecurrentState): RecurrentState {
    // a = h' itself, so ∂L/∂a = ∂L/∂h'; ∂L/∂h = Whᵀ ∂L/∂h'.
    const dhPrev = new Float64Array(rec.prev.h.length);
    pairBackward(p, grad, LAYERS, rec.x, rec.prev.h, adjoint.h, dhPrev);
    return { h: dhPrev };
  },

  tangent(p: Params, dir: Params, rec: StepRecord, prevTangent: RecurrentState): RecurrentState {
    return { h: pairTangent(p, dir, LAYERS, rec.x, rec.prev.h, prevTangent.h) };
  },
};
