// Float64 CPU reference of the five gated cells and the linear cell (SPEC §2, §4, §7, §12): the twin every GPU kernel is tested
// against. The per-step cells it loops over are the host float64 model (src/model/f64/), which production runs too.
//
//   referenceForward(layout, params, {x, y?, batch, steps}) → { h [B,T,H], c [B,T,H]|null, yHat [B,T], loss|null,
//       intermediates: gate/leak/rdiag (const, shared, diag), + r (gru), f/e/cdiag (lstm),
//       leak = Wh_qq (linear), each [B,T,H] }
//   referenceBackward(layout, params, {x, y, batch, steps}) → { loss, grad (layout-shaped), yHat }
//   referenceTangent(layout, params, {x, batch, steps}, w) → { v [B,T,H], vc [B,T,H]|null, yHatDot [B,T] }
//   referenceStep(layout, params, x_t, {h, c?}) → { next: {h, c?}, yHat, intermediates (each [H]) }
//   cellReference(kind) → one-step forward / intermediates / backward / tangent (types.ts), shared by the drivers.
// X is [B,T,D] row-major; params and w are flat arrays in the layout of src/model (Float32Array or Float64Array).
export { referenceForward, referenceStep, intermediate, type ForwardResult } from './forward.ts';
export { referenceBackward, type GradientResult } from './backward.ts';
export { referenceTangent, type TangentResult } from './tangent.ts';
export {
  LAYERNORM_EPS,
  cellReference,
  inputAt,
  layerNormBackward,
  layerNormForward,
  layerNormTangent,
  prepareModel,
  rollout,
  zeroState,
  type CellReference,
  type IntermediateValues,
  type LayerNormCache,
  type Params,
  type PreparedModel,
  type RecurrentState,
  type SequenceBatch,
  type StepRecord,
} from '../../model/f64/index.ts';
export { meanSquaredError, readout } from './readout.ts';
export { sigmoid } from '../../model/f64/math.ts';
