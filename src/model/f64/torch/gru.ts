// torch_gru (SPEC §13, torch.nn.GRU), row blocks r, z, n:
//   r = σ(a_r), z = σ(a_z), m = W_hn h + b_hn, n = tanh(W_in x + b_in + r ⊙ m), h' = (1-z) ⊙ n + z ⊙ h
// The reset multiplies m (b_hn included), so b_in and b_hn are not one summed bias, unlike lwin's gru.
import { sigmoid, sigmoidSlope, tanhSlope } from '../math.ts';
import type { RecurrentState } from '../types.ts';
import type { TorchLayerParams } from './config.ts';
import { block, project, projectBackward, projectTangent, recurrentDiagonal } from './projections.ts';
import type { TorchCellReference, TorchStepRecord } from './types.ts';

const [R, Z, N] = [0, 1, 2];

export interface TorchGruRecord extends TorchStepRecord {
  r: Float64Array;
  z: Float64Array;
  /** W_hn h + b_hn. */
  m: Float64Array;
  n: Float64Array;
}

export const torchGruCell: TorchCellReference<TorchGruRecord> = {
  cell: 'torch_gru',
  termNames: ['gate', 'leak', 'rdiag'],

  step(p: TorchLayerParams, x: Float64Array, prev: RecurrentState): TorchGruRecord {
    const hp = prev.h;
    const hidden = hp.length;
    const { gi, gh } = project(p, x, hp);
    const r = block(gi, R, hidden).map((v, q) => sigmoid(v + gh[R * hidden + q]!));
    const z = block(gi, Z, hidden).map((v, q) => sigmoid(v + gh[Z * hidden + q]!));
    const m = Float64Array.from(block(gh, N, hidden));
    const n = block(gi, N, hidden).map((v, q) => Math.tanh(v + r[q]! * m[q]!));
    const h = n.map((v, q) => (1 - z[q]!) * v + z[q]! * hp[q]!);
    return { x, prev, next: { h }, r, z, m, n };
  },

  diagonalTerms(p: TorchLayerParams, rec: TorchGruRecord) {
    const { r, z, m, n } = rec;
    const hp = rec.prev.h;
    const hidden = hp.length;
    const [wr, wz, wn] = [recurrentDiagonal(p, R, hidden), recurrentDiagonal(p, Z, hidden), recurrentDiagonal(p, N, hidden)];
    const [rSlope, zSlope, nSlope] = [sigmoidSlope(r), sigmoidSlope(z), tanhSlope(n)];
    // SPEC §13: leak = z, rdiag = (h - n) z(1-z) W_hz,qq + (1-z)(1-n²)(r W_hn,qq + m r(1-r) W_hr,qq)
    const rdiag = hp.map((h, q) => (h - n[q]!) * zSlope[q]! * wz[q]! + (1 - z[q]!) * nSlope[q]! * (r[q]! * wn[q]! + m[q]! * rSlope[q]! * wr[q]!));
    // gate = 1 - z, the candidate's share of h' (as lwin's own cells' `gate`), so the planes are the diag cell's.
    return { gate: z.map((v) => 1 - v), leak: Float64Array.from(z), rdiag };
  },

  backward(p: TorchLayerParams, grad: TorchLayerParams | null, rec: TorchGruRecord, adjoint: RecurrentState) {
    const dh = adjoint.h;
    const { r, z, m, n } = rec;
    const hp = rec.prev.h;
    const hidden = hp.length;
    const [rSlope, zSlope, nSlope] = [sigmoidSlope(r), sigmoidSlope(z), tanhSlope(n)];
    const dan = dh.map((v, q) => v * (1 - z[q]!) * nSlope[q]!);
    const dgi = new Float64Array(3 * hidden);
    const dgh = new Float64Array(3 * hidden);
    for (let q = 0; q < hidden; q++) {
      const dar = dan[q]! * m[q]! * rSlope[q]!;
      const daz = dh[q]! * (hp[q]! - n[q]!) * zSlope[q]!;
      dgi[R * hidden + q] = dgh[R * hidden + q] = dar;
      dgi[Z * hidden + q] = dgh[Z * hidden + q] = daz;
      dgi[N * hidden + q] = dan[q]!;
      dgh[N * hidden + q] = dan[q]! * r[q]!;
    }
    const dhPrev = dh.map((v, q) => v * z[q]!);
    const dx = projectBackward(p, grad, rec.x, hp, dgi, dgh, dhPrev);
    return { state: { h: dhPrev }, x: dx };
  },

  tangent(p: TorchLayerParams, dir: TorchLayerParams | null, rec: TorchGruRecord, prevTangent: RecurrentState, xDot: Float64Array | null): RecurrentState {
    const { r, z, m, n } = rec;
    const hp = rec.prev.h;
    const vp = prevTangent.h;
    const hidden = hp.length;
    const { gi, gh } = projectTangent(p, dir, rec.x, hp, xDot, vp);
    const [rSlope, zSlope, nSlope] = [sigmoidSlope(r), sigmoidSlope(z), tanhSlope(n)];
    return {
      h: hp.map((h, q) => {
        const rDot = rSlope[q]! * (gi[R * hidden + q]! + gh[R * hidden + q]!);
        const zDot = zSlope[q]! * (gi[Z * hidden + q]! + gh[Z * hidden + q]!);
        const nDot = nSlope[q]! * (gi[N * hidden + q]! + rDot * m[q]! + r[q]! * gh[N * hidden + q]!);
        return zDot * (h - n[q]!) + (1 - z[q]!) * nDot + z[q]! * vp[q]!;
      }),
    };
  },
};
