// One-step state Jacobians of the six cells (gates, recurrent mixing and LayerNorm included), assembled as
// matrices from the records of the reference cells' own `step`, and the running product the exact transport keeps.
import { LAYERNORM_PREFIX, isTorchCell, stateWidth, type TorchCellKind } from '../model/cells.ts';
import { torchSingleLayerJacobian } from '../model/f64/torch/single.ts';
import type { PreparedModel, StepRecord } from '../model/f64/index.ts';
import type { Candidate } from '../model/f64/affine.ts';
import type { GruRecord } from '../model/f64/gru.ts';
import type { LeakyRecord } from '../model/f64/leaky.ts';
import type { LstmRecord } from '../model/f64/lstm.ts';

//
// The product is kept as its top row block R = [∂h_t/∂h_{t-ℓ}] (H×H), or for lstm R = [∂h_t/∂h_{t-ℓ} | ∂h_t/∂c_{t-ℓ}]
// (H×2H): only h_t's rows are ever read. With the stacked step Jacobian [[Jhh, Jhc], [Jch, Jcc]] of lstm, where
// Jhc = diag(e f) and Jcc = diag(f) are diagonal, R ← R J costs one H×2H by 2H×H product plus O(H²).

export interface TransportWorkspace {
  n: number;
  lstm: boolean;
  /** Columns of R: H, or 2H for lstm. */
  width: number;
  block: Float64Array;
  next: Float64Array;
  /** [Jhh; Jch] (width × H): ∂h_j/∂h_{j-1}, then for lstm ∂c_j/∂h_{j-1}. */
  jacobian: Float64Array;
  /** lstm: diag(∂h_j/∂c_{j-1}) = e f and diag(∂c_j/∂c_{j-1}) = f. */
  hFromC: Float64Array;
  cFromC: Float64Array;
  /** gru: Uh (diag r + diag(h_prev r(1-r)) Ur), and the factor in brackets. */
  mixed: Float64Array;
  inner: Float64Array;
  scale: Float64Array;
  columnMean: Float64Array;
  columnProjection: Float64Array;
  diagonal: Float64Array;
}

export function createWorkspace(model: PreparedModel): TransportWorkspace {
  const n = model.hiddenSize;
  const lstm = stateWidth(model.layout.config.cell) === 2; // lstm, torch_lstm
  const width = lstm ? 2 * n : n;
  const gru = model.layout.config.cell === 'gru';
  const vector = () => new Float64Array(n);
  return {
    n,
    lstm,
    width,
    block: new Float64Array(n * width),
    next: new Float64Array(n * width),
    jacobian: new Float64Array(width * n),
    hFromC: vector(),
    cFromC: vector(),
    mixed: new Float64Array(gru ? n * n : 0),
    inner: new Float64Array(gru ? n * n : 0),
    scale: vector(),
    columnMean: vector(),
    columnProjection: vector(),
    diagonal: vector(),
  };
}

/** R = [I | 0]: the top row block of P(0) = I. */
export function resetTransport(ws: TransportWorkspace): void {
  ws.block.fill(0);
  for (let q = 0; q < ws.n; q++) ws.block[q * ws.width + q] = 1;
}

/** R ← R J_j for the step recorded in `rec`. */
export function multiplyTransport(model: PreparedModel, ws: TransportWorkspace, rec: StepRecord): void {
  stepJacobian(model, ws, rec);
  const { n, width, block, next } = ws;
  multiplyInto(next, width, block, width, ws.jacobian, n, width, n);
  if (ws.lstm) {
    const { hFromC, cFromC } = ws;
    for (let i = 0; i < n; i++) {
      const row = i * width;
      for (let q = 0; q < n; q++) next[row + n + q] = block[row + q]! * hFromC[q]! + block[row + n + q]! * cFromC[q]!;
    }
  }
  ws.block = next;
  ws.next = block;
}

/** diag P(ℓ): of ∂h_t/∂h_{t-ℓ}, or for lstm of ∂h_t/∂c_{t-ℓ} (SPEC §6). */
export function transportDiagonalAt(ws: TransportWorkspace): Float64Array {
  const offset = ws.lstm ? ws.n : 0;
  for (let q = 0; q < ws.n; q++) ws.diagonal[q] = ws.block[q * ws.width + offset + q]!;
  return ws.diagonal;
}

export function copyBlock(ws: TransportWorkspace): Float64Array {
  const { n, width } = ws;
  const offset = ws.lstm ? n : 0;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out.set(ws.block.subarray(i * width + offset, i * width + offset + n), i * n);
  return out;
}

/**
 * out[i, 0:p] = Σ_k a[i, k] b[k, 0:p] for i < rows, k < inner; b is dense [inner, p], all row-major.
 * Two rows of out and four rows of b per sweep: each b element loaded feeds two products and each out element is
 * stored once per four k (about 4× faster than the plain i-k-j loop in V8, exact same sums up to reassociation).
 */
function multiplyInto(out: Float64Array, outStride: number, a: Float64Array, aStride: number, b: Float64Array, rows: number, inner: number, p: number): void {
  for (let i = 0; i < rows; i += 2) {
    const second = i + 1 < rows ? i + 1 : -1;
    multiplyRows(out, i * outStride, second * outStride, a, i * aStride, second * aStride, b, inner, p, second >= 0);
  }
}

function multiplyRows(out: Float64Array, o0: number, o1: number, a: Float64Array, r0: number, r1: number, b: Float64Array, inner: number, p: number, pair: boolean): void {
  out.fill(0, o0, o0 + p);
  if (pair) out.fill(0, o1, o1 + p);
  let k = 0;
  for (; pair && k + 3 < inner; k += 4) {
    const a0 = a[r0 + k]!, a1 = a[r0 + k + 1]!, a2 = a[r0 + k + 2]!, a3 = a[r0 + k + 3]!;
    const c0 = a[r1 + k]!, c1 = a[r1 + k + 1]!, c2 = a[r1 + k + 2]!, c3 = a[r1 + k + 3]!;
    const b0 = k * p, b1 = b0 + p, b2 = b1 + p, b3 = b2 + p;
    for (let j = 0; j < p; j++) {
      const x0 = b[b0 + j]!, x1 = b[b1 + j]!, x2 = b[b2 + j]!, x3 = b[b3 + j]!;
      out[o0 + j] = out[o0 + j]! + a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
      out[o1 + j] = out[o1 + j]! + c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
    }
  }
  for (; k < inner; k++) {
    const bk = k * p;
    const a0 = a[r0 + k]!;
    for (let j = 0; j < p; j++) out[o0 + j] = out[o0 + j]! + a0 * b[bk + j]!;
    if (!pair) continue;
    const c0 = a[r1 + k]!;
    for (let j = 0; j < p; j++) out[o1 + j] = out[o1 + j]! + c0 * b[bk + j]!;
  }
}

/** m[rowOffset + q, q] += d[q]. */
function addDiagonal(m: Float64Array, n: number, rowOffset: number, d: ArrayLike<number>): void {
  for (let q = 0; q < n; q++) m[(rowOffset + q) * n + q] = m[(rowOffset + q) * n + q]! + d[q]!;
}

/** m[rowOffset + q, :] += scale[q] · w[q, :]; w's row stride is `wStride` (0 repeats one row: shared's Us [1,H]). */
function addScaledRows(m: Float64Array, n: number, rowOffset: number, scale: Float64Array, w: Float64Array, wStride: number): void {
  for (let q = 0; q < n; q++) {
    const sq = scale[q]!;
    if (sq === 0) continue;
    const row = (rowOffset + q) * n;
    const wRow = q * wStride;
    for (let k = 0; k < n; k++) m[row + k] = m[row + k]! + sq * w[wRow + k]!;
  }
}

/**
 * m[rowOffset + q, :] += gate[q] · (∂g/∂a · M)[q, :] for the candidate g = tanh(LN(a)) whose pre-activation moves
 * by M per unit of h_prev: ∂g_q/∂a_k = (1-g_q²) γ_q r (δ_qk - 1/H - x̂_q x̂_k/H) with LayerNorm, (1-g_q²) δ_qk without.
 */
function addCandidateRows(ws: TransportWorkspace, m: Float64Array, rowOffset: number, gate: Float64Array, cand: Candidate, gamma: Float64Array | null, w: Float64Array): void {
  const { n, scale } = ws;
  const g = cand.g;
  const ln = cand.layerNorm;
  if (!ln || !gamma) {
    for (let q = 0; q < n; q++) scale[q] = gate[q]! * (1 - g[q]! * g[q]!);
    addScaledRows(m, n, rowOffset, scale, w, n);
    return;
  }
  const { columnMean: mean, columnProjection: proj } = ws;
  const xh = ln.normalized;
  mean.fill(0);
  proj.fill(0);
  for (let q = 0; q < n; q++) {
    const xq = xh[q]!;
    for (let k = 0; k < n; k++) {
      const wqk = w[q * n + k]!;
      mean[k] = mean[k]! + wqk;
      proj[k] = proj[k]! + xq * wqk;
    }
  }
  for (let k = 0; k < n; k++) {
    mean[k] = mean[k]! / n;
    proj[k] = proj[k]! / n;
  }
  for (let q = 0; q < n; q++) {
    const sq = gate[q]! * (1 - g[q]! * g[q]!) * gamma[q]! * ln.inverseStd;
    const xq = xh[q]!;
    const row = (rowOffset + q) * n;
    for (let k = 0; k < n; k++) m[row + k] = m[row + k]! + sq * (w[q * n + k]! - mean[k]! - xq * proj[k]!);
  }
}

/** Fills ws.jacobian (and for lstm hFromC, cFromC) with J_j of SPEC §2's step. */
function stepJacobian(model: PreparedModel, ws: TransportWorkspace, rec: StepRecord): void {
  const kind = model.layout.config.cell;
  const lnWeight = `${LAYERNORM_PREFIX[kind]}.weight`;
  const gamma = model.p.has(lnWeight) ? model.p.get(lnWeight) : null;
  ws.jacobian.fill(0);
  if (isTorchCell(kind)) torchJacobian(kind, model, ws, rec);
  else if (kind === 'gru') gruJacobian(model, ws, rec as GruRecord, gamma);
  else if (kind === 'lstm') lstmJacobian(model, ws, rec as LstmRecord, gamma);
  else if (kind === 'linear') ws.jacobian.set(model.p.get('Wh.weight')); // h' = Wh h + Wx x: J = Wh at every step
  else leakyJacobian(model, ws, rec as LeakyRecord, gamma);
}

/**
 * PyTorch's layers (SPEC §13): the full one-step Jacobian from the twin's tangent, split into [Jhh; Jch] and, for
 * torch_lstm, the diagonal blocks ∂h/∂c_prev = diag(o(1 - tanh² c) f) and ∂c/∂c_prev = diag(f) (its other entries are 0).
 */
function torchJacobian(kind: TorchCellKind, model: PreparedModel, ws: TransportWorkspace, rec: StepRecord): void {
  const { n, width } = ws;
  const full = torchSingleLayerJacobian(kind, model.p, rec);
  for (let row = 0; row < width; row++) {
    for (let k = 0; k < n; k++) ws.jacobian[row * n + k] = full[row * width + k]!;
  }
  if (!ws.lstm) return;
  for (let q = 0; q < n; q++) {
    ws.hFromC[q] = full[q * width + n + q]!;
    ws.cFromC[q] = full[(n + q) * width + n + q]!;
  }
}

/** const/shared/diag: J = diag(1-s) + diag((g - h_prev) σ'(a_s)) ∂a_s/∂h + diag(s) ∂g/∂h,  ∂g/∂h through Wh. */
function leakyJacobian(model: PreparedModel, ws: TransportWorkspace, rec: LeakyRecord, gamma: Float64Array | null): void {
  const { n, jacobian: J, scale } = ws;
  const { s, slope } = rec.gate;
  const hp = rec.prev.h;
  const g = rec.candidate.g;
  addDiagonal(J, n, 0, s.map((v) => 1 - v));
  const kind = model.layout.config.cell;
  if (kind !== 'const') {
    for (let q = 0; q < n; q++) scale[q] = (g[q]! - hp[q]!) * slope[q]!;
    addScaledRows(J, n, 0, scale, model.p.get('Us.weight'), kind === 'shared' ? 0 : n); // shared: one gate, Us [1,H]
  }
  addCandidateRows(ws, J, 0, s, rec.candidate, gamma, model.p.get('Wh.weight'));
}

/** gru: J = diag(1-z) + diag((g - h_prev) z(1-z)) Uz + diag(z) ∂g/∂h,  ∂a_g/∂h = Uh (diag r + diag(h_prev r(1-r)) Ur). */
function gruJacobian(model: PreparedModel, ws: TransportWorkspace, rec: GruRecord, gamma: Float64Array | null): void {
  const { n, jacobian: J, scale, inner, mixed } = ws;
  const { z, r } = rec;
  const hp = rec.prev.h;
  const g = rec.candidate.g;
  addDiagonal(J, n, 0, z.map((v) => 1 - v));
  for (let q = 0; q < n; q++) scale[q] = (g[q]! - hp[q]!) * z[q]! * (1 - z[q]!);
  addScaledRows(J, n, 0, scale, model.p.get('Uz.weight'), n);
  inner.fill(0);
  for (let q = 0; q < n; q++) scale[q] = hp[q]! * r[q]! * (1 - r[q]!);
  addScaledRows(inner, n, 0, scale, model.p.get('Ur.weight'), n);
  addDiagonal(inner, n, 0, r);
  multiplyInto(mixed, n, model.p.get('Uh.weight'), n, inner, n, n, n);
  addCandidateRows(ws, J, 0, z, rec.candidate, gamma, mixed);
}

/**
 * lstm: Jch = ∂c/∂h_prev = diag(c_prev f(1-f)) Uf + diag(g i(1-i)) Ui + diag(i) ∂g/∂h,
 *       Jhh = diag(tanh(c) o(1-o)) Uo + diag(e) Jch,  Jhc = diag(e f),  Jcc = diag(f),  e = o(1 - tanh² c).
 */
function lstmJacobian(model: PreparedModel, ws: TransportWorkspace, rec: LstmRecord, gamma: Float64Array | null): void {
  const { n, jacobian: J, scale } = ws;
  const { i, f, o } = rec;
  const cp = rec.prev.c!;
  const g = rec.candidate.g;
  const tc = rec.cellActivation;
  for (let q = 0; q < n; q++) scale[q] = cp[q]! * f[q]! * (1 - f[q]!);
  addScaledRows(J, n, n, scale, model.p.get('Uf.weight'), n);
  for (let q = 0; q < n; q++) scale[q] = g[q]! * i[q]! * (1 - i[q]!);
  addScaledRows(J, n, n, scale, model.p.get('Ui.weight'), n);
  addCandidateRows(ws, J, n, i, rec.candidate, gamma, model.p.get('Ug.weight'));
  for (let q = 0; q < n; q++) scale[q] = tc[q]! * o[q]! * (1 - o[q]!);
  addScaledRows(J, n, 0, scale, model.p.get('Uo.weight'), n);
  for (let q = 0; q < n; q++) {
    const e = o[q]! * (1 - tc[q]! * tc[q]!);
    ws.hFromC[q] = e * f[q]!;
    ws.cFromC[q] = f[q]!;
    const row = q * n;
    const cRow = (n + q) * n;
    for (let k = 0; k < n; k++) J[row + k] = J[row + k]! + e * J[cRow + k]!;
  }
}
