// Adaptive base rate ρ (SPEC §5; paper §4, Appendix D): with a diagonal preconditioner η_p and the one-step
// sensitivity J_q = ∂h_{t,q}/∂θ (h_{t-1}, x_t held fixed),  ρ_{b,t,q} = Σ_p J_qp² η_p / Σ_p J_qp²,  on the GPU for
// every sequence, step and unit of a diagnostic batch (kernel: shaders/diagnostics/rho.ts; float64 twin that forms
// the J_q rows explicitly: src/reference/diagnostics/rho.ts).
//
// How J_q is formed, at the cost of a forward step instead of O(H³). Every trainable parameter of the recurrence
// enters the step directly in exactly one place: row q' of one gate block k (W_k[q',·] times x_t, U_k[q',·] times
// the block's recurrent operand, b_k[q']), a pre-activation a_{k,q'}; or LayerNorm's γ_q', β_q', through
// ĝ_q' = γ_q' n̂_q' + β_q'. (out.* and the const cell's s_const do not enter h.) So J_qp = G_{q,k,q'} · u_p with
// G_{q,k,q'} = ∂h_q/∂a_{k,q'} the *total* derivative of h_q (every path through later pre-activations, LayerNorm and
// the nonlinearities, summed before squaring) and u_p the operand p multiplies (x_d, u_j or 1). Hence
//   Σ_p J_qp² η_p = Σ_{k,q'} G_{q,k,q'}² c_{k,q'},   c_{k,q'} = Σ_d x_d² η_{W_k[q',d]} + Σ_j u_j² η_{U_k[q',j]} + η_{b_k[q']},
// plus L_q² (n̂_q² η_{γ_q} + η_{β_q}) for LayerNorm's own parameters, and the same with η ≡ 1 for Σ_p J_qp².
// Since g_q' enters only h_q' in every cell, ∂h_q/∂ĝ_q' = δ_qq' L_q with L_q = A_q (1 - g_q²), A_q = ∂h_q/∂g_q.
// The candidate block then has G_{q,g,q'} = L_q M_qq' with M = ∂ĝ/∂a_g: I without LayerNorm, and with it
//   M_qq' = (γ_q/σ)(δ_qq' - 1/H - n̂_q n̂_q'/H)   (σ = √(var + eps), the exact Jacobian with eps),
// so the candidate's sum is (L_q γ_q/σ)² Σ_q' (δ_qq' - 1/H - n̂_q n̂_q'/H)² c_{g,q'}: one pass over the H units per
// thread (equivalently the per-sequence sums Σc, Σn̂c, Σn̂²c; the direct pass avoids their cancellation).
// Per cell (σ' = σ(1-σ), s, z, r, i, f, o the gates, g the candidate, h = h_{t-1}):
//   const   A = s; the candidate block (Wx, Wx.bias, Wh with operand h) and LayerNorm only.
//   diag    + gate rows: G_{q,s,q'} = δ_qq' (g_q - h_q) σ'(a_{s,q}), rows of Ws, Ws.bias, Us (operand h).
//   shared  + the one gate row (Ws [1,D], Ws.bias, Us [1,H]) feeds every unit: G_{q,s} = (g_q - h_q) σ'(a_s), and
//           c_s is the same for all q (each parameter of the row still has a single path to h_q).
//   gru     A = z; update rows G = δ (g_q - h_q) σ'(a_z); candidate rows use the operand r ⊙ h; the reset gate
//           reaches h_q only through the candidate: G_{q,r,j} = L_q (M Uh)_qj h_j σ'(a_{r,j}), i.e. with LayerNorm
//           (L_q γ_q/σ)(Uh_qj - m_j - n̂_q v_j) h_j σ'(a_{r,j}), m_j = mean_q' Uh_q'j, v_j = mean_q' n̂_q' Uh_q'j
//           (one transposed pass for m, v, one row pass per unit).
//   lstm    c = f c_prev + i g, h = o tanh(c); A = o (1 - tanh²c) i; gate rows (each on its own unit only):
//           G_i = o(1 - tanh²c) g σ'(a_i), G_f = o(1 - tanh²c) c_prev σ'(a_f), G_o = tanh(c) σ'(a_o).
//   linear  h = Wx x + Wx.bias + Wh h_prev: J_q is row q of Wx (operand x), its bias (1) and row q of Wh
//           (operand h), each with factor 1, so ρ_q = (Σ x² η_Wx + η_b + Σ h² η_Wh) / (Σ x² + 1 + Σ h²) over row q.
//
// Numerics: ρ = η̄ · Σ J²(η_p/η̄) / Σ J² with both sums carried in the two lanes of one vec2 through identical
// arithmetic. SPEC §5's decomposition form η̄ + Σ J²(η_p - η̄)/Σ J² gives the same value, but in f32 its signed
// numerator cancels (an error of ~1e-7·max η, large against a ρ far below η̄ when η spans orders of magnitude);
// the ratio form is a weighted mean of positive terms (relative error a few ulp) and is still exact under SGD: every
// ratio is 1, the two sums agree bitwise and the kernel returns η̄ itself. Where Σ J² = 0, ρ = η̄.
// Each unit's factors G are divided by their largest magnitude before squaring (the ratio does not change; squares of
// ~1e-20 slopes would underflow f32), and factors that may be small (g - h, tanh c) use a tanh that is accurate
// relative to its value near 0 (the built-in is only absolutely accurate there: 2e-4 relative at 1e-4 on lavapipe).
import { stateWidth } from '../model/cells.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Step } from '../gpu/step.ts';
import { checkF32Buffer } from '../gpu/buffers.ts';
import { describeConfig, type ParamLayout } from '../model/params.ts';
import { NO_SLOT, type RecurrentSizes } from '../../shaders/recurrence/params.ts';
import { rhoProgram, type RhoVariant } from '../../shaders/diagnostics/rho.ts';
import { STEPS_PER_DISPATCH, checkRecurrentSizes, tensorOffsets } from '../cells/forward.ts';
import { diagnosticTile } from '../cells/tiles.ts';
import type { Tile } from '../../shaders/cells/tile.ts';

/** [start, end) of every trainable tensor (the padding between them excluded). */
function trainableRanges(layout: ParamLayout): [number, number][] {
  return layout.tensors.filter((t) => t.trainable).map((t) => [t.offset, t.offset + t.size]);
}

/**
 * η̄, the mean base rate over the trainable parameters (readout included, padding excluded), as the first rate
 * plus the mean deviation from it: a constant preconditioner gives exactly that constant (a plain Σ/N may not).
 */
export function meanBaseRate(layout: ParamLayout, preconditioner: Float64Array): number {
  checkPreconditioner(layout, preconditioner);
  const ranges = trainableRanges(layout);
  const first = preconditioner[ranges[0]![0]]!;
  let deviation = 0;
  let compensation = 0; // Neumaier: the deviations may span orders of magnitude
  for (const [start, end] of ranges) {
    for (let p = start; p < end; p++) {
      const v = preconditioner[p]! - first;
      const sum = deviation + v;
      compensation += Math.abs(deviation) >= Math.abs(v) ? deviation - sum + v : v - sum + deviation;
      deviation = sum;
    }
  }
  return first + (deviation + compensation) / layout.trainableCount;
}

function checkPreconditioner(layout: ParamLayout, eta: Float64Array): void {
  if (eta.length !== layout.trainableSize) {
    throw new Error(
      `the preconditioner has ${eta.length} rates; the ${describeConfig(layout.config)} model's trainable prefix has ` +
        `${layout.trainableSize} (GpuOptimizer.preconditioner() gives it in that layout)`,
    );
  }
  for (const [start, end] of trainableRanges(layout)) {
    for (let p = start; p < end; p++) {
      const v = eta[p]!;
      if (!(v >= 0) || !Number.isFinite(v)) {
        const tensor = layout.tensors.find((t) => p >= t.offset && p < t.offset + t.size)!;
        throw new Error(`preconditioner rate η_p = ${v} for ${tensor.name}[${p - tensor.offset}]: rates must be finite and ≥ 0`);
      }
    }
  }
}

export interface RhoBatch {
  /** Flat f32 parameters in the engine's layout. */
  params: GPUBuffer;
  /** x [count, T, D]. */
  x: GPUBuffer;
  /** Stored forward states [T, count, W, H] (W = 2 for lstm: h then c); slot s = state after step s. Slots 0 … T-2 are read. */
  states: GPUBuffer;
  /** Sequences in x, states and rho. */
  count: number;
  /** T. */
  steps: number;
  /** Output ρ [count, T, H]. */
  rho: GPUBuffer;
}

export class RhoEngine {
  /** η̄ (float64); the kernel uses its f32 rounding, so under SGD ρ = fround(lr). */
  readonly etaBar: number;
  private readonly ratios: GPUBuffer;
  private readonly program: ReturnType<typeof rhoProgram>;
  private readonly variant: RhoVariant;

  constructor(
    private readonly ctx: GpuContext,
    readonly layout: ParamLayout,
    preconditioner: Float64Array,
    /** The thread tile; default: the training kernels' default tile for H (tests pass others). */
    tile?: Tile,
  ) {
    checkRecurrentSizes(layout);
    this.etaBar = meanBaseRate(layout, preconditioner);
    if (!(this.etaBar > 0)) throw new Error(`the mean base rate η̄ is ${this.etaBar}; ρ needs a positive learning rate`);
    // η_p/η̄ in the full layout, so the kernel reads rates at the parameters' own offsets; 0 off the trainable tensors.
    const ratios = new Float32Array(layout.totalSize);
    for (const [start, end] of trainableRanges(layout)) {
      for (let p = start; p < end; p++) ratios[p] = preconditioner[p]! / this.etaBar;
    }
    this.ratios = ctx.upload('rho/rate-ratios', ratios);
    const { cell, layernorm, hiddenSize, inputSize } = layout.config;
    // the training kernels' default tile (one sequence per thread group, K units per thread up to H = 1024)
    this.variant = { cell, layernorm, tile: tile ?? diagnosticTile(ctx.device, cell, hiddenSize, inputSize) };
    this.program = rhoProgram(this.variant);
  }

  /** Records ρ [count, T, H] for one diagnostic batch into `step`. */
  recordBatch(step: Step, args: RhoBatch): void {
    const { layout } = this;
    const { cell, hiddenSize: H, inputSize: D } = layout.config;
    const { count, steps } = args;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(steps) || steps < 1) {
      throw new Error(`RhoEngine.recordBatch: count and steps must be positive integers, got count=${count}, steps=${steps}`);
    }
    const W = stateWidth(cell);
    const owner = 'RhoEngine.recordBatch';
    checkF32Buffer(owner, 'x [count, T, D]', args.x, [count, steps, D]);
    checkF32Buffer(owner, 'states [T, count, W, H] (slots 0 … T-2)', args.states, [Math.max(1, steps - 1), count, W, H]);
    checkF32Buffer(owner, 'rho [count, T, H]', args.rho, [count, steps, H]);
    const offsets = tensorOffsets(layout);
    const buffers = { P: args.params, R: this.ratios, x: args.x, states: args.states, rho_out: args.rho };
    for (let t0 = 0; t0 < steps; t0 += STEPS_PER_DISPATCH) {
      const sizes: RecurrentSizes = {
        batch: count, T: steps, D, H, t0, steps: Math.min(STEPS_PER_DISPATCH, steps - t0),
        slots: steps, storeEvery: 1, storeFrom: 0, startSlot: NO_SLOT, // states: slot s = after step s
      };
      step.run(this.program, buffers, { ...sizes, ...offsets, etaBar: this.etaBar, one: 1 });
    }
  }

  destroy(): void {
    this.ratios.destroy();
  }
}
