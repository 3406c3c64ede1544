// shared cell (SPEC §2): one scalar gate per sequence and step, broadcast to all H units.
//   s = σ(Ws x + Ws.bias + Us h) ∈ R   (Ws [1,D], Us [1,H]),   h' = (1-s) h + s g
import { pairBackward, pairForward, pairTangent, type LayerPair } from './affine.ts';
import { sigmoid } from './math.ts';
import { leakyCell, type GateValues, type LeakyGate } from './leaky.ts';

const GATE_LAYERS: LayerPair = { input: 'Ws', recurrent: 'Us' };

const scalarGate: LeakyGate = {
  forward(p, x, hPrev): GateValues {
    const n = hPrev.length;
    const preActivation = pairForward(p, GATE_LAYERS, x, hPrev); // [1]
    const s = sigmoid(preActivation[0]!);
    return {
      s: new Float64Array(n).fill(s),
      slope: new Float64Array(n).fill(s * (1 - s)),
      recurrentDiagonal: Float64Array.from(p.get('Us.weight')), // Us_q: ∂a_s/∂h_q
      preActivation,
    };
  },
  backward(p, grad, x, hPrev, gate, ds, dhPrev): void {
    // The scalar s feeds every unit: ∂L/∂a_s = σ'(a_s) Σ_q ∂L/∂s_q.
    const das = new Float64Array([gate.slope[0]! * ds.reduce((sum, v) => sum + v, 0)]);
    pairBackward(p, grad, GATE_LAYERS, x, hPrev, das, dhPrev);
  },
  tangent(p, dir, x, hPrev, hPrevDot, gate): Float64Array {
    const aDot = pairTangent(p, dir, GATE_LAYERS, x, hPrev, hPrevDot)[0]!;
    return new Float64Array(hPrev.length).fill(gate.slope[0]! * aDot);
  },
};

export const sharedCell = leakyCell('shared', scalarGate);
