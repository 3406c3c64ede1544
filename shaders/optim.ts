// Parameter updates of SPEC §3's optimizers over the trainable prefix of the flat parameter buffer, one thread
// per element, with global-norm gradient clipping. The per-element arithmetic follows torch.optim's
// single-tensor code step by step (same operations in the same order, f32 as torch computes float tensors);
// the host (src/train/optim) owns each optimizer's state layout and turns the configuration into uniforms.
// State tensors live in one buffer, slot s of element i at s · count + i.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { d } from '../src/gpu/layout.ts';
import { defineProgram, type BindingDecl, type DispatchLimits, type Program, type ShaderHead } from '../src/gpu/program.ts';
import { foldRows } from '../src/gpu/grid.ts';
import { foldedRow } from './common.ts';

export const OptimParams = d.struct({
  count: d.u32, // trainable elements: the prefix [0, count) is updated, the rest never touched
  first: d.u32, // 1 on the first update (sgd_momentum starts its buffer at g')
  clip: d.f32, // global-norm threshold; 0: no clipping
  lr: d.f32,
  weightDecay: d.f32, // sgd, sgd_momentum, rmsprop: g' = g + wd·p
  decay: d.f32, // adamw: 1 - lr·wd (decoupled decay)
  momentum: d.f32,
  oneMinusBeta1: d.f32, // host-computed in double as torch does, so 1 - β1 loses nothing to f32 cancellation
  beta2: d.f32,
  oneMinusBeta2: d.f32,
  stepSize: d.f32, // adamw: lr / (1 - β1^k)
  bc2Sqrt: d.f32, // adamw: √(1 - β2^k)
  alpha: d.f32,
  oneMinusAlpha: d.f32,
  eps: d.f32,
});

export type UpdateRule = 'sgd' | 'sgd_momentum' | 'adamw' | 'rmsprop';

export const OPTIM_WORKGROUP = 256;

/** Per-element update bodies. In scope: i, count, p = params[i], g = clipped gradient, u = uniforms, state. */
const UPDATE_BODIES: Record<UpdateRule, string> = {
  // torch: grad = grad.add(param, alpha=wd); param.add_(grad, alpha=-lr)
  sgd: `
  let gw = g + u.weightDecay * p;
  params[i] = p - u.lr * gw;`,
  // torch: first step buf = clone(grad), later buf.mul_(momentum).add_(grad); param.add_(buf, alpha=-lr)
  sgd_momentum: `
  let gw = g + u.weightDecay * p;
  var buf = gw;
  if (u.first == 0u) { buf = u.momentum * state[i] + gw; }
  state[i] = buf;
  params[i] = p - u.lr * buf;`,
  // torch (AdamW): param.mul_(1 - lr·wd); exp_avg.lerp_(grad, 1 - β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad,
  // value=1 - β2); denom = exp_avg_sq.sqrt() / √bc2 + eps; param.addcdiv_(exp_avg, denom, value=-lr/bc1)
  adamw: `
  let decayed = p * u.decay;
  let m = torch_lerp(state[i], g, u.oneMinusBeta1);
  let v = u.beta2 * state[count + i] + u.oneMinusBeta2 * g * g;
  state[i] = m;
  state[count + i] = v;
  let denom = sqrt(v) / u.bc2Sqrt + u.eps;
  params[i] = decayed - u.stepSize * (m / denom);`,
  // torch (not centered, momentum 0): grad = grad.add(param, alpha=wd); square_avg.mul_(α).addcmul_(grad, grad,
  // value=1 - α); avg = square_avg.sqrt().add_(eps); param.addcdiv_(grad, avg, value=-lr)
  rmsprop: `
  let gw = g + u.weightDecay * p;
  let v = u.alpha * state[i] + u.oneMinusAlpha * gw * gw;
  state[i] = v;
  let avg = sqrt(v) + u.eps;
  params[i] = p - u.lr * (gw / avg);`,
};

/** State tensors per element, which sets whether the kernel binds a state buffer. */
export const UPDATE_STATE_SLOTS: Record<UpdateRule, number> = { sgd: 0, sgd_momentum: 1, adamw: 2, rmsprop: 1 };

/** One thread per trainable element, rows of workgroups folded (at least one workgroup: thread 0 writes ‖g‖). */
function elementRows(p: { count: number }, limits: DispatchLimits) {
  return [1, ...foldRows(Math.max(1, Math.ceil(p.count / OPTIM_WORKGROUP)), limits.maxWorkgroupsPerDimension)] as const;
}

/** The uniform is `u`: `params` names the parameter buffer. */
const optimUniform = { name: 'u', struct: 'OptimParams', schema: OptimParams };

/**
 * The update kernel of one optimizer: params (rw), grad, sum_of_squares (the gradient's Σg² over the trainable
 * prefix), grad_norm (written by thread 0), then state (rw) for optimizers that keep any.
 */
export function optimUpdateProgram(rule: UpdateRule): Program<typeof OptimParams> {
  const bindings: BindingDecl[] = [
    { name: 'params', access: 'read_write', type: 'f32' },
    { name: 'grad', access: 'read', type: 'f32' },
    { name: 'sum_of_squares', access: 'read', type: 'f32' },
    { name: 'grad_norm', access: 'read_write', type: 'f32' },
  ];
  if (UPDATE_STATE_SLOTS[rule] > 0) bindings.push({ name: 'state', access: 'read_write', type: 'f32' });
  return defineProgram({
    name: 'optim_update',
    variantKey: rule,
    bindings,
    uniform: optimUniform,
    workgroupSize: [OPTIM_WORKGROUP],
    dispatch: elementRows,
    shader: (head) => optimUpdateShader(rule, head),
  });
}

function optimUpdateShader(rule: UpdateRule, head: ShaderHead): string {
  return wgsl`
${head.declarations}
${foldedRow}

// torch.lerp's two formulas (ATen's lerp): start + w·(end - start) for |w| < 0.5, else end - (end - start)·(1 - w).
fn torch_lerp(start: f32, end: f32, w: f32) -> f32 {
  if (abs(w) < 0.5) { return start + w * (end - start); }
  return end - (end - start) * (1.0 - w);
}

const WG: u32 = ${head.threads}u;

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = folded_row(wg, nwg) * WG + lid.x;
  let count = u.count;
  let norm = sqrt(sum_of_squares[0]);
  if (i == 0u) { grad_norm[0] = norm; }
  if (i >= count) { return; }
  // torch.nn.utils.clip_grad_norm_: coef = max_norm / (total_norm + 1e-6), clamped to 1, always multiplied in.
  var coef = 1.0;
  if (u.clip > 0.0) { coef = min(u.clip / (norm + 1e-6), 1.0); }
  let g = grad[i] * coef;
  let p = params[i];
${UPDATE_BODIES[rule]}
}
`;
}

/** squares[i] = grad[i]² over the trainable prefix, the input of the compensated sum for the global norm. */
export const gradSquaresProgram = defineProgram({
  name: 'optim_grad_squares',
  variantKey: '',
  bindings: [
    { name: 'grad', access: 'read', type: 'f32' },
    { name: 'squares', access: 'read_write', type: 'f32' },
  ],
  uniform: optimUniform,
  workgroupSize: [OPTIM_WORKGROUP],
  dispatch: elementRows,
  shader: gradSquaresShader,
});

function gradSquaresShader(head: ShaderHead): string {
  return wgsl`
${head.declarations}
${foldedRow}

@compute @workgroup_size(${head.workgroupSize})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = folded_row(wg, nwg) * ${head.threads}u + lid.x;
  if (i >= u.count) { return; }
  let g = grad[i];
  squares[i] = g * g;
}
`;
}
