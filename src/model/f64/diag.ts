// diag cell (SPEC §2): one gate per unit.
//   s = σ(Ws x + Ws.bias + Us h) ∈ R^H   (Ws [H,D], Us [H,H]),   h' = (1-s) ⊙ h + s ⊙ g
import { pairBackward, pairForward, pairTangent, type LayerPair } from './affine.ts';
import { diagonal, sigmoidSlope, sigmoidVec } from './math.ts';
import { leakyCell, type GateValues, type LeakyGate } from './leaky.ts';

const GATE_LAYERS: LayerPair = { input: 'Ws', recurrent: 'Us' };

const unitGate: LeakyGate = {
  forward(p, x, hPrev): GateValues {
    const preActivation = pairForward(p, GATE_LAYERS, x, hPrev); // [H]
    const s = sigmoidVec(preActivation);
    return { s, slope: sigmoidSlope(s), recurrentDiagonal: diagonal(p.get('Us.weight'), hPrev.length), preActivation };
  },
  backward(p, grad, x, hPrev, gate, ds, dhPrev): void {
    const das = ds.map((v, q) => v * gate.slope[q]!);
    pairBackward(p, grad, GATE_LAYERS, x, hPrev, das, dhPrev);
  },
  tangent(p, dir, x, hPrev, hPrevDot, gate): Float64Array {
    const aDot = pairTangent(p, dir, GATE_LAYERS, x, hPrev, hPrevDot);
    return aDot.map((v, q) => v * gate.slope[q]!);
  },
};

export const diagCell = leakyCell('diag', unitGate);
