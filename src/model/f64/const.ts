// const cell (SPEC §2): s = s_const, a fixed scalar buffer, never trained.
//   g = tanh(LN(Wx x + Wh h)),   h' = (1-s) h + s g
import { leakyCell, type GateValues, type LeakyGate } from './leaky.ts';

const constantGate: LeakyGate = {
  forward(p, _x, hPrev): GateValues {
    const n = hPrev.length;
    const s = p.get('s_const')[0]!;
    return { s: new Float64Array(n).fill(s), slope: new Float64Array(n), recurrentDiagonal: new Float64Array(n), preActivation: new Float64Array(0) };
  },
  backward(): void {
    // s_const is a buffer: no gradient, and s does not depend on h_prev.
  },
  tangent(_p, _dir, _x, hPrev): Float64Array {
    return new Float64Array(hPrev.length); // directions along s_const are ignored (it is not trainable)
  },
};

export const constCell = leakyCell('const', constantGate);
