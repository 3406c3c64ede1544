// Every kernel family lwin dispatches, with the float64 twin it is checked against and the check that runs it at a
// tiny size. `lwin doctor` runs every check (checkAllKernels), the kernel bench times every family from this list,
// and a test fails when a program is defined that no entry covers.
//
// Adding a kernel: write its module under shaders/ exporting a `defineProgram` (named bindings, uniform schema,
// workgroup size, dispatch function); run it from its host wrapper with `step.run(program, { name: buffer }, uniforms)`;
// give it a float64 twin under src/reference/ and a tolerance in tolerances.ts (derived at its test); then add an
// entry here whose check compares the two at a tiny size.
import type { GpuContext } from '../gpu/context.ts';
import { CELL_KINDS, type CellKind } from '../model/cells.ts';
import { cancellingData, checkGatherRows, checkMatmul, checkSegmentedReduce } from './selftest.ts';
import { checkHeadDelta, checkReadoutLoss, checkStackGradient } from './head.ts';
import {
  checkDiagnosticStage, checkForward, checkGradient, checkOptimizers, checkRho, checkTangent, checkWindowMu, onSplitTiles, onTile, type KernelCheck,
} from './checks.ts';

export interface KernelFamily {
  /** The program name, or its prefix for per-cell programs (`forward` covers forward_gru, …). */
  family: string;
  perCell: boolean;
  /** The float64 twin the check compares with. */
  twin: string;
  /** Runs the check; per-cell families get one result per cell. */
  check: (ctx: GpuContext, cache: CheckCache) => Promise<KernelCheck[]>;
}

/** Checks that cover several families run once per doctor run. */
export class CheckCache {
  private readonly runs = new Map<string, Promise<unknown>>();

  once<T>(key: string, run: () => Promise<T>): Promise<T> {
    let result = this.runs.get(key) as Promise<T> | undefined;
    if (!result) {
      result = run();
      this.runs.set(key, result);
    }
    return result;
  }
}

async function eachCell(run: (cell: CellKind) => Promise<KernelCheck>): Promise<KernelCheck[]> {
  const out: KernelCheck[] = [];
  for (const cell of CELL_KINDS) out.push(await run(cell));
  return out;
}

const gradients = (ctx: GpuContext, cache: CheckCache) =>
  cache.once('gradients', async () => {
    const out = [];
    for (const cell of CELL_KINDS) out.push(await checkGradient(ctx, cell));
    // gru and lstm again on a GPU's split tiles (none on a CPU adapter)
    out.push(...(await onSplitTiles(ctx, (cell) => checkGradient(ctx, cell), (g, tile) => ({ loss: onTile(g.loss, tile), grad: onTile(g.grad, tile) }))));
    return out;
  });
const stage = (ctx: GpuContext, cache: CheckCache) => cache.once('stage', () => checkDiagnosticStage(ctx, 'gru'));
// The stage's ψ comes from the fused window_envelope; window_psi (recordPsi) is checked by the stage run unfused.
const stageUnfused = (ctx: GpuContext, cache: CheckCache) => cache.once('stage-unfused', () => checkDiagnosticStage(ctx, 'gru', { fuseWindows: false }));
const stack = (ctx: GpuContext, cache: CheckCache) => cache.once('stack', () => checkStackGradient(ctx));
const optimizers = (ctx: GpuContext, cache: CheckCache) => cache.once('optim', () => checkOptimizers(ctx));
const windowMu = (ctx: GpuContext, cache: CheckCache) => cache.once('mu', () => eachCell((cell) => checkWindowMu(ctx, cell)));

export const KERNEL_FAMILIES: readonly KernelFamily[] = [
  {
    family: 'matmul', perCell: false, twin: 'reference/matmul.ts matmulReference',
    check: async (ctx) => [
      await checkMatmul(ctx, { batch: 3, m: 37, k: 20, n: 70 }, { transposeB: true, bias: true, strategy: 'tiled' }, 7),
      await checkMatmul(ctx, { batch: 3, m: 37, k: 20, n: 70 }, { transposeB: true, bias: true, strategy: 'direct' }, 7),
    ],
  },
  {
    family: 'segmented_reduce', perCell: false, twin: 'reference/reduce.ts segmentedReduceReference',
    check: async (ctx) => {
      const reduce = await checkSegmentedReduce(ctx, cancellingData(5, 10_007, 11), 5, 10_007);
      return [reduce.sums, reduce.means];
    },
  },
  {
    family: 'forward', perCell: true, twin: 'reference/cells referenceForward',
    check: async (ctx) => [...(await eachCell((cell) => checkForward(ctx, cell))), ...(await onSplitTiles(ctx, (cell) => checkForward(ctx, cell), onTile))],
  },
  { family: 'readout_loss', perCell: false, twin: 'model/f64/torch torchGradients (SPEC §13 losses)', check: (ctx) => checkReadoutLoss(ctx) },
  { family: 'head_delta', perCell: false, twin: 'its float64 sum out.weightᵀ r', check: async (ctx) => [await checkHeadDelta(ctx)] },
  { family: 'mse_residual', perCell: false, twin: 'reference/cells referenceBackward (loss)', check: async (ctx, cache) => (await gradients(ctx, cache)).map((g) => g.loss) },
  { family: 'backward', perCell: true, twin: 'reference/cells referenceBackward (∂L/∂θ)', check: async (ctx, cache) => (await gradients(ctx, cache)).map((g) => g.grad) },
  { family: 'weight_grad', perCell: false, twin: 'reference/cells referenceBackward (∂L/∂θ)', check: async (ctx, cache) => (await gradients(ctx, cache)).map((g) => g.grad) },
  // The copy by columns is exact (a permutation); its check is every kernel that reads it agreeing with float64.
  { family: 'weights_by_columns', perCell: false, twin: 'reference/cells referenceBackward (the kernels reading it)', check: async (ctx, cache) => (await gradients(ctx, cache)).map((g) => g.grad) },
  // A stack of PyTorch layers (SPEC §13): each layer's h into the next, each layer's input adjoint to the one below
  { family: 'layer_input', perCell: false, twin: 'model/f64/torch torchGradients (2 layers)', check: async (ctx, cache) => [await stack(ctx, cache)] },
  { family: 'input_adjoint', perCell: false, twin: 'model/f64/torch torchGradients (2 layers)', check: async (ctx, cache) => [await stack(ctx, cache)] },
  { family: 'tangent', perCell: true, twin: 'reference/cells referenceTangent', check: (ctx) => eachCell((cell) => checkTangent(ctx, cell)) },
  { family: 'rho', perCell: true, twin: 'reference/diagnostics/rho.ts referenceRho', check: (ctx) => eachCell((cell) => checkRho(ctx, cell)) },
  { family: 'window_scan', perCell: false, twin: 'reference/diagnostics/windows.ts referenceMu', check: (ctx, cache) => windowMu(ctx, cache) },
  { family: 'window_mu', perCell: false, twin: 'reference/diagnostics/windows.ts referenceMu', check: (ctx, cache) => windowMu(ctx, cache) },
  { family: 'window_envelope', perCell: false, twin: 'reference/diagnostics/windows.ts referenceEnvelope', check: async (ctx, cache) => [(await stage(ctx, cache)).envelope] },
  { family: 'window_accumulate', perCell: false, twin: 'reference/diagnostics/windows.ts referenceEnvelope', check: async (ctx, cache) => [(await stage(ctx, cache)).envelope] },
  { family: 'readout_delta', perCell: false, twin: 'reference/diagnostics/windows.ts referencePsi (δ from referenceForward)', check: async (ctx, cache) => [(await stage(ctx, cache)).psi] },
  { family: 'window_psi', perCell: false, twin: 'reference/diagnostics/windows.ts referencePsi', check: async (ctx, cache) => [(await stageUnfused(ctx, cache)).psi] },
  { family: 'gather_rows', perCell: false, twin: 'data/batches.ts gatherBatch (exact)', check: async (ctx) => [await checkGatherRows(ctx)] },
  { family: 'optim_grad_squares', perCell: false, twin: 'reference/optim.ts referenceOptimizerStep (‖g‖)', check: async (ctx, cache) => [(await optimizers(ctx, cache)).norm] },
  { family: 'optim_update', perCell: false, twin: 'reference/optim.ts referenceOptimizerStep', check: async (ctx, cache) => [(await optimizers(ctx, cache)).update] },
];

/** Whether a program name belongs to a family of the registry. */
export function familyOf(programName: string): KernelFamily | undefined {
  return KERNEL_FAMILIES.find((f) => (f.perCell ? CELL_KINDS.some((c) => programName === `${f.family}_${c}`) : programName === f.family));
}

export interface FamilyCheck {
  family: string;
  twin: string;
  checks: KernelCheck[];
}

/** Every family's check, in registry order (checks covering several families run once). */
export async function checkAllKernels(ctx: GpuContext, onFamily?: (family: string) => void): Promise<FamilyCheck[]> {
  const cache = new CheckCache();
  const out: FamilyCheck[] = [];
  for (const f of KERNEL_FAMILIES) {
    onFamily?.(f.family);
    out.push({ family: f.family, twin: f.twin, checks: await f.check(ctx, cache) });
  }
  return out;
}
