// Lag recovery (SPEC §12): the model's recovered coefficient at lag ℓ, ĉ(ℓ) = mean_{b,s} u·∂ŷ_{s+ℓ}/∂x_s, from the
// forward tangent kernel with an input-space tangent (parameters fixed): each row of the batch is one probe
// sequence perturbed along u at one start step s, and ŷ̇_{s+ℓ} of that row is u·∂ŷ_{s+ℓ}/∂x_s.
import type { GpuContext } from '../gpu/context.ts';
import type { ParamLayout } from '../model/params.ts';
import { recordTangent } from '../cells/tangent.ts';
import { tangentStateWidth } from '../../shaders/recurrence/tangent.ts';

export interface RecoveryProbe {
  /** Probe sequences [P, T, D]. */
  x: Float32Array;
  count: number;
  steps: number;
  inputSize: number;
  /** Start steps s at which each probe's input is perturbed (each pair (probe, s) is one row). */
  starts: readonly number[];
}

/** ĉ(ℓ) for ℓ = 1…lagMax (index ℓ-1); windows s + ℓ ≥ T are left out of the mean. */
export async function lagRecovery(ctx: GpuContext, layout: ParamLayout, params: GPUBuffer, probe: RecoveryProbe, u: ArrayLike<number>, lagMax: number): Promise<Float64Array> {
  const { count, steps: T, inputSize: D, starts } = probe;
  const { cell, hiddenSize: H } = layout.config;
  if (u.length !== D) throw new Error(`lag recovery: the input direction has ${u.length} components, the model takes ${D}`);
  if (starts.some((s) => !Number.isInteger(s) || s < 0 || s >= T)) throw new Error(`lag recovery: start steps must be integers in [0, ${T - 1}]`);
  const rows = count * starts.length;
  const x = new Float32Array(rows * T * D);
  const inputDir = new Float32Array(D + rows);
  inputDir.set(Float32Array.from(u));
  for (let p = 0; p < count; p++) {
    starts.forEach((s, i) => {
      const row = p * starts.length + i;
      x.set(probe.x.subarray(p * T * D, (p + 1) * T * D), row * T * D);
      inputDir[D + row] = s;
    });
  }
  const b = {
    x: ctx.upload('recovery/x', x),
    direction: ctx.storage('recovery/zero-direction', layout.totalSize * 4),
    inputDir: ctx.upload('recovery/input-direction', inputDir),
    state: ctx.storage('recovery/state', rows * tangentStateWidth(cell) * H * 4),
    v: ctx.storage('recovery/v', rows * T * H * 4),
    yhatDot: ctx.storage('recovery/yhat-dot', rows * T * 4),
  };
  try {
    const step = ctx.step('lag recovery');
    step.clear(b.state).clear(b.direction);
    recordTangent(step, { layout, params, direction: b.direction, x: b.x, batch: rows, steps: T, state: b.state, v: b.v, yhatDot: b.yhatDot, inputDirection: b.inputDir });
    const read = step.readF32(b.yhatDot);
    await step.submit();
    const yDot = await read;
    const sums = new Float64Array(lagMax);
    const counts = new Float64Array(lagMax);
    for (let row = 0; row < rows; row++) {
      const s = inputDir[D + row]!;
      for (let ell = 1; ell <= lagMax && s + ell < T; ell++) {
        sums[ell - 1]! += yDot[row * T + s + ell]!;
        counts[ell - 1]!++;
      }
    }
    return sums.map((v, i) => (counts[i]! > 0 ? v / counts[i]! : NaN));
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
  }
}
