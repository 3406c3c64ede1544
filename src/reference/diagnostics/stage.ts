// The diagnostic stage's float64 chain (SPEC §4, §5, §7): forward, tangent along the study's ψ direction, ρ from
// the given rates, then the envelopes and ψ sums of the window twins. What tests and `lwin doctor` compare the
// GPU stage (runDiagnostics) against.
import type { SequenceData } from '../../data/dataset.ts';
import { studyDirection } from '../../diagnostics/psi.ts';
import { INTERMEDIATE_NAMES } from '../../model/cells.ts';
import { getTensorSpec, type FloatArray, type ParamLayout } from '../../model/params.ts';
import { referenceForward, referenceTangent } from '../cells/index.ts';
import { referenceRho } from './rho.ts';
import { referenceEnvelope, referencePsi } from './windows.ts';

export interface ReferenceStageOptions {
  lags: readonly number[];
  wSeed: number;
  /** Per-parameter rates for ρ (the preconditioner η_p). */
  eta: Float64Array;
  firstOrder?: boolean;
}

export function referenceDiagnosticStage(layout: ParamLayout, params: FloatArray, data: Pick<SequenceData, 'x' | 'y' | 'count' | 'steps'>, options: ReferenceStageOptions) {
  const { lags, wSeed, eta, firstOrder = true } = options;
  const batch = { x: data.x, y: data.y, batch: data.count, steps: data.steps };
  const fwd = referenceForward(layout, params, batch);
  const tan = referenceTangent(layout, params, batch, studyDirection(layout, wSeed));
  const H = layout.config.hiddenSize;
  const rows = data.count * data.steps;
  // δ_t = (ŷ_t - y_t)·out: the readout's adjoint, which ψ pairs with the tangent (SPEC §7).
  const outW = getTensorSpec(layout, 'out.weight');
  const delta = new Float64Array(rows * H);
  for (let i = 0; i < rows; i++) for (let q = 0; q < H; q++) delta[i * H + q] = (fwd.yHat[i]! - data.y[i]!) * params[outW.offset + q]!;
  const names = INTERMEDIATE_NAMES[layout.config.cell];
  const intermediates = new Float64Array(names.length * rows * H);
  names.forEach((name, n) => intermediates.set(fwd.intermediates[name]!, n * rows * H));
  const windowData = { cell: layout.config.cell, batch: data.count, steps: data.steps, hidden: H, intermediates };
  const rho = referenceRho(layout, params, batch, eta);
  return {
    envelope: referenceEnvelope(windowData, lags, firstOrder, rho.rho),
    psi: referencePsi(windowData, lags, firstOrder, delta, tan.v),
    etaBar: rho.etaBar,
  };
}
