// The host float64 model (SPEC §2, §4, §7, §12): each cell's step, its SPEC §4 terms, adjoint and tangent in
// float64, and the rollout of a sequence from the zero state. Production code runs it (exact transport,
// src/diagnostics/transport.ts, and the initialisation's QR in linalg.ts); src/reference/ builds the batch twins the
// GPU kernels are checked against on top of it.
//
//   cellReference(kind) → one-step forward / intermediates / backward / tangent (types.ts)
//   prepareModel(layout, params) → PreparedModel; rollout(model, batch, b) → StepRecord[] per step; zeroState(model)
export { cellReference } from './registry.ts';
export { checkBatch, inputAt, prepareModel, rollout, zeroState, type PreparedModel, type SequenceBatch } from './sequence.ts';
export { LAYERNORM_EPS, layerNormBackward, layerNormForward, layerNormTangent, type LayerNormCache } from './layernorm.ts';
export type { CellReference, IntermediateValues, Params, RecurrentState, StepRecord } from './types.ts';
