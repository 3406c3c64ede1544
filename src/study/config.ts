// A study's configuration: every knob of SPEC, validated before any work starts, with the `quick` and `paper` presets.
import { z } from 'zod';
import { CELL_KINDS, GATED_CELL_KINDS } from '../model/cells.ts';
import { OptimizerSchema } from '../train/config.ts';
import { PAPER_BUDGETS } from '../stats/detectability.ts';
import { MAX_TRAIN_HIDDEN, MAX_TRAIN_INPUT } from '../cells/tiles.ts';

const posInt = z.number().int().positive();

export const StudySchema = z
  .object({
    cells: z.array(z.enum(CELL_KINDS as unknown as [string, ...string[]])).min(1),
    task: z
      .object({
        steps: posInt,
        inputSize: posInt.max(MAX_TRAIN_INPUT),
        lags: z.array(posInt).min(1),
        coeffs: z.array(z.number()).min(1),
        noiseStd: z.number().nonnegative(),
        seed: z.number().int().nonnegative(),
      })
      .strict(),
    /**
     * Your data instead of the task: X [N,T,D] and Y [N,T] (.npy); the task still supplies nothing then. The files
     * come in pairs (x with y, diagX with diagY): optional here so that a missing partner is named by
     * `contradictions`, not reported as a bare type error.
     */
    data: z.object({ x: z.string().optional(), y: z.string().optional(), diagX: z.string().optional(), diagY: z.string().optional() }).strict().optional(),
    trainSequences: posInt,
    diagSequences: posInt,
    /** `layernorm` applies to the gated cells (linear has none); `initScale` multiplies every initial Linear weight. */
    model: z
      .object({
        hidden: posInt.max(MAX_TRAIN_HIDDEN), layernorm: z.boolean(), orthogonal: z.boolean(), constS: z.number().gt(0).lt(1), initScale: z.number().positive().optional(),
        // SPEC §13's readout [K, H] and loss; absent: the paper's scalar mse at every step
        outputs: posInt.optional(), loss: z.enum(['mse', 'ce']).optional(), lossSteps: z.enum(['all', 'last']).optional(),
        // SPEC §13's num_layers of PyTorch's layers (rnn, rnn_relu, torch_gru, torch_lstm); absent: 1
        layers: posInt.optional(),
      })
      .strict(),
    optimizer: OptimizerSchema,
    epochs: posInt,
    batch: posInt,
    seed: z.number().int().nonnegative(),
    wSeed: z.number().int().nonnegative(),
    lagGrid: z.object({ min: posInt, max: posInt, num: posInt }).strict(),
    budgets: z.array(posInt).min(1),
    eps: z.number().positive(),
    alphaMethod: z.enum(['mcculloch', 'ecf', 'koutrouvelis']),
    firstOrder: z.boolean(),
    rho: z.boolean(),
    transportSamples: z.number().int().nonnegative(),
    psiSubsample: posInt,
    diagBatch: posInt.optional(),
    diagMemoryBudget: posInt,
    checkpointEvery: posInt,
    gateLogEvery: posInt,
    bpttCheckpoint: posInt.optional(),
    trackEvery: posInt.optional(),
  })
  .strict();

export type StudyConfig = z.infer<typeof StudySchema>;

/** SPEC §10 exactly: the paper's run (seed 212; the paper repeats it over seeds 212, 1001, 2002, 3003, 4004). */
export const PAPER_PRESET: StudyConfig = {
  cells: [...GATED_CELL_KINDS],
  task: { steps: 1024, inputSize: 16, lags: [32, 64, 128, 192, 256], coeffs: [0.6, 0.5, 0.4, 0.32, 0.26], noiseStd: 0.3, seed: 212 },
  trainSequences: 8000,
  diagSequences: 8000,
  model: { hidden: 128, layernorm: true, orthogonal: true, constS: 0.05 },
  optimizer: { name: 'adamw', lr: 1e-3, weightDecay: 1e-4, clip: 1 },
  epochs: 750,
  batch: 512,
  seed: 212,
  wSeed: 212,
  lagGrid: { min: 4, max: 256, num: 128 },
  budgets: [...PAPER_BUDGETS],
  eps: 0.1,
  alphaMethod: 'ecf',
  firstOrder: true,
  rho: true,
  transportSamples: 64,
  psiSubsample: 200_000,
  diagMemoryBudget: 512 * 2 ** 20,
  checkpointEvery: 25,
  gateLogEvery: 10,
};

/**
 * The default study: all five cells on a shortened task (T=128, lags 4…32) with H=32, a few hundred sequences and
 * 8 epochs: minutes on a software adapter, yet long enough for the envelopes' regimes (const's exponential decay at
 * the rate its gate sets, the gated cells' slower decays) to show on a 2…96 lag grid.
 */
export const QUICK_PRESET: StudyConfig = {
  ...PAPER_PRESET,
  task: { steps: 128, inputSize: 8, lags: [4, 8, 16, 24, 32], coeffs: [0.6, 0.5, 0.4, 0.32, 0.26], noiseStd: 0.3, seed: 212 },
  trainSequences: 384,
  diagSequences: 192,
  model: { hidden: 32, layernorm: true, orthogonal: true, constS: 0.05 },
  optimizer: { name: 'adamw', lr: 5e-3, weightDecay: 1e-4, clip: 1 },
  epochs: 8,
  batch: 64,
  lagGrid: { min: 2, max: 96, num: 32 },
  budgets: [25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800],
  transportSamples: 8,
  psiSubsample: 50_000,
  checkpointEvery: 4,
  gateLogEvery: 2,
};

export const PRESETS = { quick: QUICK_PRESET, paper: PAPER_PRESET } as const;
export type PresetName = keyof typeof PRESETS;

/** Merges `overrides` (from a file and flags) into a preset, validates, and refuses contradictions. */
export function resolveStudy(preset: PresetName, overrides: Record<string, unknown>, source = 'the study configuration'): StudyConfig {
  const merged = deepMerge(structuredClone(PRESETS[preset]) as unknown as Record<string, unknown>, overrides);
  const parsed = StudySchema.safeParse(merged);
  const problems = parsed.success ? contradictions(parsed.data) : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  if (problems.length) throw new Error(`${source} ${problems.length === 1 ? 'has a problem' : 'have problems'}; nothing was run:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return parsed.data!;
}

function contradictions(c: StudyConfig): string[] {
  const out: string[] = [];
  const T = c.task.steps;
  if (c.task.lags.length !== c.task.coeffs.length) out.push(`task.lags has ${c.task.lags.length} lags but task.coeffs ${c.task.coeffs.length} coefficients`);
  if (c.task.lags.some((l) => l >= T)) out.push(`task.lags must be below task.steps (${T}); got ${c.task.lags.join(',')}: give a longer --steps or smaller --task-lags`);
  out.push(...dataPairs(c.data));
  // An inverted grid has no integers at all: say that once, not also that num exceeds a negative count.
  if (c.lagGrid.min > c.lagGrid.max) out.push(`lagGrid.min (${c.lagGrid.min}) exceeds lagGrid.max (${c.lagGrid.max}) (--lag-min, --lag-max): the grid runs from min up to max`);
  if (c.lagGrid.max >= T) out.push(`lagGrid.max (${c.lagGrid.max}) must be below the sequence length ${T}: a window of lag ℓ needs t ≥ ℓ`);
  if (c.lagGrid.min <= c.lagGrid.max && c.lagGrid.num > c.lagGrid.max - c.lagGrid.min + 1) out.push(`lagGrid.num (${c.lagGrid.num}) exceeds the ${c.lagGrid.max - c.lagGrid.min + 1} integers in [${c.lagGrid.min}, ${c.lagGrid.max}]`);
  if (new Set(c.cells).size !== c.cells.length) out.push(`cells lists a cell twice: ${c.cells.join(',')}`);
  if (c.budgets.some((b, i) => i > 0 && b <= c.budgets[i - 1]!)) out.push('budgets must increase strictly');
  if (c.bpttCheckpoint !== undefined && c.bpttCheckpoint >= T) out.push(`bpttCheckpoint (${c.bpttCheckpoint}) must be below task.steps (${T})`);
  if (c.trackEvery !== undefined && c.trackEvery > c.epochs) out.push(`trackEvery (${c.trackEvery}) exceeds epochs (${c.epochs})`);
  return out;
}

/** The data files come in pairs, and diagnostic data only with training data (the diagnostics use the model trained on it). */
function dataPairs(data: StudyConfig['data']): string[] {
  if (!data) return [];
  const out: string[] = [];
  if ((data.x === undefined) !== (data.y === undefined)) {
    out.push(`data.${data.x === undefined ? 'y' : 'x'} is given without data.${data.x === undefined ? 'x' : 'y'}: --x and --y go together; give both .npy files, or neither to use the multi-lag task`);
  }
  if ((data.diagX === undefined) !== (data.diagY === undefined)) {
    out.push(
      `data.${data.diagX === undefined ? 'diagY' : 'diagX'} is given without data.${data.diagX === undefined ? 'diagX' : 'diagY'}: --diag-x and --diag-y go together; ` +
        'give both .npy files, or neither to diagnose on the training data',
    );
  } else if (data.diagX !== undefined && data.x === undefined && data.y === undefined) {
    out.push('data.diagX and data.diagY need data.x and data.y: diagnostic data replace the training data only for the diagnostics; give --x and --y too (for lwin diagnose, your data as --x and --y suffice)');
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = base[key];
    if (isPlainObject(value) && isPlainObject(current)) base[key] = deepMerge(current, value);
    else base[key] = value;
  }
  return base;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
