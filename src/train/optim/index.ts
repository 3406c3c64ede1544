// Optimizers of SPEC §3 on the GPU, with PyTorch's semantics (torch.optim's single-tensor code, operation by
// operation), over the trainable prefix of a model's flat parameter buffer (src/model/params.ts).
//
//   new GpuOptimizer(ctx, layout, { name, lr, weightDecay, clip, ... })   validates, fills torch's defaults
//   optimizer.record(step, params, grad)   1. g² → compensated Σg² (no host round trip)
//                                          2. one update kernel: ‖g‖ into `gradNorm`, clip, update p and state
//   saveState() / loadState(state)         torch's state names (exp_avg, exp_avg_sq, square_avg, momentum_buffer)
//   preconditioner()                       η_p for the adaptive base rate ρ (SPEC §5)
export {
  OPTIMIZER_DEFAULTS,
  OPTIMIZER_NAMES,
  describeOptimizer,
  isOptimizerName,
  parseOptimizerName,
  resolveOptimizerConfig,
  type OptimizerConfig,
  type OptimizerName,
  type ResolvedOptimizerConfig,
} from './config.ts';
export { GpuOptimizer, type OptimizerState } from './gpu-optimizer.ts';
export { OPTIMIZER_RULES, updateUniforms, type OptimizerRule } from './rules.ts';
