// Lag recovery (SPEC §12): the model's recovered coefficient at lag ℓ, ĉ(ℓ) = mean_{b,s} u·∂ŷ_{s+ℓ}/∂x_s, from the
// forward tangent kernel with an input-space tangent (parameters fixed): each row of the batch is one probe
// sequence perturbed along u at one start step s, and ŷ̇_{s+ℓ} of that row is u·∂ŷ_{s+ℓ}/∂x_s.
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import { recordTangent } from '../cells/tangent.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';
import { sequencesPerChunk } from '../gpu/chunks.ts';
import { BufferPlan } from '../gpu/buffer-plan.ts';

export interface RecoveryProbe {
  /** Probe sequences [P, T, D]. */
  x: Float32Array;
  count: number;
  steps: number;
  inputSize: number;
  /** Start steps s at which each probe's input is perturbed (each pair (probe, s) is one row). */
  starts: readonly number[];
}

/**
 * Lag recovery's buffers, per probe row (one probe sequence perturbed at one start) and fixed: the zero parameter
 * direction and the input direction u [D] ahead of each row's start step. They size the chunk and are allocated from it.
 */
export function recoveryPlan(layout: ParamLayout, steps: number): BufferPlan {
  const { cell, hiddenSize: H, inputSize: D } = layout.config;
  return new BufferPlan('lag recovery', [
    { label: 'recovery/x', perSequence: 4 * steps * D },
    { label: 'recovery/zero-direction', perSequence: 0, fixed: 4 * layout.totalSize },
    { label: 'recovery/input-direction', perSequence: 4, fixed: 4 * D },
    { label: 'recovery/state', perSequence: 4 * tangentStateWidth(cell) * H },
    { label: 'recovery/v', perSequence: 4 * steps * H },
    { label: 'recovery/yhat-dot', perSequence: 4 * steps },
  ]);
}

/** ĉ(ℓ) for ℓ = 1…lagMax (index ℓ-1); windows s + ℓ ≥ T are left out of the mean. */
export async function lagRecovery(
  ctx: GpuContext, layout: ParamLayout, params: GPUBuffer, probe: RecoveryProbe, u: ArrayLike<number>, lagMax: number,
  options: { memoryBudget?: number } = {},
): Promise<Float64Array> {
  const { count, steps: T, inputSize: D, starts } = probe;
  const { cell, hiddenSize: H } = layout.config;
  if (u.length !== D) throw new Error(`lag recovery: the input direction has ${u.length} components, the model takes ${D}`);
  if (starts.some((s) => !Number.isInteger(s) || s < 0 || s >= T)) throw new Error(`lag recovery: start steps must be integers in [0, ${T - 1}]`);
  const rows = count * starts.length;
  const plan = recoveryPlan(layout, T);
  const chunk = sequencesPerChunk(ctx.device.limits, { pass: 'lag recovery', count: rows, buffers: plan.perSequence, budget: options.memoryBudget });
  const held = plan.allocate(ctx, chunk);
  const b = {
    x: held['recovery/x']!,
    direction: held['recovery/zero-direction']!,
    inputDir: held['recovery/input-direction']!,
    state: held['recovery/state']!,
    v: held['recovery/v']!,
    yhatDot: held['recovery/yhat-dot']!,
  };
  // Row r = (probe ⌊r/S⌋, start r mod S); the rows stream through in chunks and their ŷ̇ add to running sums.
  const sums = new Float64Array(lagMax);
  const counts = new Float64Array(lagMax);
  try {
    for (let first = 0; first < rows; first += chunk) {
      const size = Math.min(chunk, rows - first);
      const x = new Float32Array(size * T * D);
      const inputDir = new Float32Array(D + size);
      inputDir.set(Float32Array.from(u));
      for (let i = 0; i < size; i++) {
        const probeIndex = Math.floor((first + i) / starts.length);
        x.set(probe.x.subarray(probeIndex * T * D, (probeIndex + 1) * T * D), i * T * D);
        inputDir[D + i] = starts[(first + i) % starts.length]!;
      }
      ctx.device.queue.writeBuffer(b.x, 0, x);
      ctx.device.queue.writeBuffer(b.inputDir, 0, inputDir);
      const step = ctx.step(`lag recovery rows ${first}..${first + size}`);
      step.clear(b.state).clear(b.direction);
      recordTangent(step, { layout, params, direction: b.direction, x: b.x, batch: size, steps: T, state: b.state, v: b.v, yhatDot: b.yhatDot, inputDirection: b.inputDir });
      const read = step.readF32(b.yhatDot, 0, size * T);
      await step.submit();
      const yDot = await read;
      for (let i = 0; i < size; i++) {
        const s = inputDir[D + i]!;
        for (let ell = 1; ell <= lagMax && s + ell < T; ell++) {
          sums[ell - 1]! += yDot[i * T + s + ell]!;
          counts[ell - 1]!++;
        }
      }
    }
    return sums.map((v, i) => (counts[i]! > 0 ? v / counts[i]! : NaN));
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
}
