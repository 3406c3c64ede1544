// Doctor checks of SPEC §13's readout kernels at the tiny size: readout_loss (ce at the last step, through a whole
// batch gradient of a torch_gru with a K=3 head) against part A's float64 twin, and head_delta against its sum.
import type { GpuContext } from '../gpu/context.ts';
import { buildLayout, initParams, TensorViews } from '../model/index.ts';
import { torchGradients } from '../model/f64/torch/index.ts';
import { torchParamsOf } from '../model/stack.ts';
import { recordBatchGradient } from '../cells/backward.ts';
import { headDeltaProgram } from '../../shaders/loss.ts';
import { getTensorSpec } from '../model/params.ts';
import { compareToReference } from '../reference/compare.ts';
import { Rng } from '../util/random.ts';
import { LOSS_RELATIVE, gradientTolerance } from './tolerances.ts';
import { TINY, type KernelCheck } from './checks.ts';

const K = 3;

function tinyHead(layers = 1) {
  const layout = buildLayout({ cell: 'torch_gru', inputSize: TINY.input, hiddenSize: TINY.hidden, layernorm: false, outputs: K, ...(layers > 1 && { layers }) });
  const p = Float32Array.from(initParams(layout, { seed: 61, orthogonal: true }));
  const rng = new Rng(62);
  const x = Float32Array.from({ length: TINY.batch * TINY.steps * TINY.input }, () => rng.normal());
  const y = Float32Array.from({ length: TINY.batch * TINY.steps }, () => Math.floor(rng.uniform() * K));
  return { layout, p, x, y };
}

/** A tiny torch_gru of `layers` layers with a K=3 head, ce at the last step: the GPU's loss and ∂L/∂θ and torchGradients'. */
async function tinyTorchGradient(ctx: GpuContext, layers: number) {
  const { layout, p, x, y } = tinyHead(layers);
  const { batch: B, steps: T } = TINY;
  const b = {
    params: ctx.upload('check/P', p), x: ctx.upload('check/x', x), y: ctx.upload('check/y', y),
    yhat: ctx.storage('check/yhat', B * T * K * 4), grad: ctx.storage('check/grad', layout.totalSize * 4), loss: ctx.storage('check/loss', 4),
  };
  let got;
  try {
    const step = ctx.step('check readout loss');
    recordBatchGradient(step, { layout, ...b, batch: B, steps: T, readoutLoss: { loss: 'ce', lossSteps: 'last' } });
    const reads = [step.readF32(b.grad), step.readF32(b.loss)];
    await step.submit();
    const [grad, loss] = await Promise.all(reads);
    got = { grad: grad!, loss: loss! };
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
  const twin = torchParamsOf(layout, p);
  const ref = torchGradients(twin, { x, batch: B, steps: T }, { loss: 'ce', lossSteps: 'last', y });
  const expected = new Float64Array(layout.totalSize);
  const into = new TensorViews(layout, expected);
  for (const t of twin.layout.tensors) into.get(t.name).set(ref.grad.data.subarray(t.offset, t.offset + t.size));
  const shape = `torch_gru${layers > 1 ? ` ×${layers} layers` : ''} K=${K} ce at the last step B=${B} T=${T} H=${TINY.hidden} D=${TINY.input}`;
  return { got, loss: ref.loss.loss, expected, layout, shape };
}

/** readout_loss (ce, last step) + backward_torch_gru with K=3: loss and ∂L/∂θ against torchGradients. */
export async function checkReadoutLoss(ctx: GpuContext): Promise<KernelCheck[]> {
  const { got, loss, expected, layout, shape } = await tinyTorchGradient(ctx, 1);
  return [
    { kernel: 'readout_loss', shape: `${shape}: loss`, values: got.loss, comparison: compareToReference(got.loss, [loss], () => LOSS_RELATIVE * loss) },
    { kernel: 'readout_loss + backward_torch_gru + weight_grad', shape: `${shape}: ∂L/∂θ`, values: got.grad, comparison: compareToReference(got.grad, expected, gradientTolerance(layout, expected)) },
  ];
}

/**
 * A 2-layer stack (SPEC §13): layer_input (layer 0's h as layer 1's x), the backward with the error from above, and
 * input_adjoint (layer 1's ∂L/∂x as layer 0's error): ∂L/∂θ of both layers against torchGradients.
 */
export async function checkStackGradient(ctx: GpuContext): Promise<KernelCheck> {
  const { got, expected, layout, shape } = await tinyTorchGradient(ctx, 2);
  return { kernel: 'layer_input + input_adjoint + backward_torch_gru', shape: `${shape}: ∂L/∂θ`, values: got.grad, comparison: compareToReference(got.grad, expected, gradientTolerance(layout, expected)) };
}

/** head_delta: δ = out.weightᵀ r per row against the float64 sum (K terms of f32 products: 4 ulp of Σ|w r|). */
export async function checkHeadDelta(ctx: GpuContext): Promise<KernelCheck> {
  const { layout, p } = tinyHead();
  const H = TINY.hidden;
  const rows = TINY.batch * TINY.steps;
  const rng = new Rng(63);
  const r = Float32Array.from({ length: rows * K }, () => rng.normal());
  const b = { P: ctx.upload('check/P', p), dy: ctx.upload('check/dy', r), delta: ctx.storage('check/delta', rows * H * 4) };
  let got: Float32Array;
  try {
    const step = ctx.step('check head delta');
    step.run(headDeltaProgram, b, { count: rows, H, K, outWeight: getTensorSpec(layout, 'out.weight').offset });
    const read = step.readF32(b.delta);
    await step.submit();
    got = await read;
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
  const w = new TensorViews(layout, Float64Array.from(p)).get('out.weight');
  const expected = new Float64Array(rows * H);
  const size = new Float64Array(rows * H);
  for (let row = 0; row < rows; row++) {
    for (let q = 0; q < H; q++) {
      for (let k = 0; k < K; k++) {
        expected[row * H + q]! += w[k * H + q]! * r[row * K + k]!;
        size[row * H + q]! += Math.abs(w[k * H + q]! * r[row * K + k]!);
      }
    }
  }
  return { kernel: 'head_delta', shape: `K=${K} H=${H}, ${rows} rows`, values: got, comparison: compareToReference(got, expected, (i) => 4 * 2 ** -24 * size[i]!) };
}
