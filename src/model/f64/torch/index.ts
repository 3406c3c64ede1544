// Float64 twins of PyTorch's stock recurrent layers (SPEC §13): nn.RNN (tanh/relu), nn.GRU, nn.LSTM, L layers,
// batch_first, a linear readout [K,H] with mse or ce at all steps or the last. The host reference the GPU kernels
// and the diagnostics of these cells are checked against.
//
//   torchLayout(config) → names/shapes/offsets in PyTorch order; torchParams(layout, flat) → named views
//   torchForward(params, batch) → records, h/c per layer, h_n, c_n, ŷ; torchForwardLoss → loss, ∂L/∂ŷ, residual
//   torchGradients(params, batch, targets) → loss and ∂L/∂θ (BPTT through the stack)
//   torchTangents(params, forward, dir) → v^{(k)}_t; torchDiagonalTerms → SPEC §13 terms per layer
//   outputErrors + layerErrors → δ_t and δ^{(k)}_t; torchStateJacobian / torchInputJacobian → one-step Jacobians
//   torchRho(params, forward, η) → ρ per layer; WINDOW_RULE → whose SPEC §5 window rule each layer kind follows
export * from './config.ts';
export { torchCellReference, WINDOW_RULE } from './registry.ts';
export { torchStateJacobian, torchInputJacobian } from './jacobian.ts';
export { lossStepList, outputErrors, readoutForward, torchLoss, type LossResult, type LossSteps, type TorchLoss, type TorchTargets } from './loss.ts';
export { cellOf, layerErrors, torchDiagonalTerms, torchForward, torchForwardLoss, torchGradients, torchTangents, type TorchBatch, type TorchForward, type TorchGradients } from './stack.ts';
export { torchRho } from './rho.ts';
export type { DiagonalTerms, TorchCellReference, TorchStepRecord } from './types.ts';
