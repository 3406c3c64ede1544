// Training configuration (SPEC §2 model options, §3 training), validated with precise messages.
import { z } from 'zod';
import { CELL_KINDS, cellLayerNorm, type CellKind } from '../model/cells.ts';
import { MAX_TRAIN_HIDDEN, MAX_TRAIN_INPUT } from '../cells/tiles.ts';

const positiveInt = z.number().int().positive();

export const OptimizerSchema = z
  .object({
    name: z.enum(['sgd', 'sgd_momentum', 'adamw', 'rmsprop']),
    lr: z.number().positive(),
    weightDecay: z.number().nonnegative(),
    momentum: z.number().min(0).max(1).optional(),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).optional(),
    eps: z.number().positive().optional(),
    alpha: z.number().min(0).lt(1).optional(),
    clip: z.number().positive().nullable().optional(),
  })
  .strict();

export const TrainConfigSchema = z
  .object({
    cell: z.enum(CELL_KINDS as unknown as [string, ...string[]]),
    hidden: positiveInt.max(MAX_TRAIN_HIDDEN),
    layernorm: z.boolean(),
    orthogonal: z.boolean(),
    constS: z.number().gt(0).lt(1),
    /** Multiplies every initial Linear weight (SPEC §12 `init_scale`); absent: 1. */
    initScale: z.number().positive().optional(),
    optimizer: OptimizerSchema,
    epochs: positiveInt,
    batch: positiveInt,
    /** Seed of the model's initialisation and of the shuffling. */
    seed: z.number().int().nonnegative(),
    /** Write a checkpoint every this many epochs (and always at the end). */
    checkpointEvery: positiveInt,
    gateLogEvery: positiveInt,
    /** Keep every k-th state in BPTT and recompute the rest (memory O(B·H·(T/k + k))); absent: keep all. */
    bpttCheckpoint: positiveInt.optional(),
    /** SPEC §13: K outputs (mse) or classes (ce) of the readout [K, H]; absent: 1, the paper's scalar readout. */
    outputs: positiveInt.optional(),
    /** SPEC §13: num_layers of PyTorch's layers (layer k > 0 reads layer k-1's h); absent: 1. */
    layers: positiveInt.optional(),
    /** SPEC §13's loss; absent: mse. ce takes class indices as targets; the learning curve's *_acc is then accuracy. */
    loss: z.enum(['mse', 'ce']).optional(),
    /** Where the loss is taken; absent: every step. `last`: sequence classification (t = T-1 only). */
    lossSteps: z.enum(['all', 'last']).optional(),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema> & { cell: (typeof CELL_KINDS)[number] };

/** The paper's training settings (SPEC §3) for one cell. */
export const PAPER_TRAINING = {
  hidden: 128,
  layernorm: true,
  orthogonal: true,
  constS: 0.05,
  optimizer: { name: 'adamw', lr: 1e-3, weightDecay: 1e-4, clip: 1.0 },
  epochs: 750,
  batch: 512,
  seed: 212,
  checkpointEvery: 25,
  gateLogEvery: 10,
} as const;

/**
 * Validates `value` as a training configuration; the error lists every problem with its path. `layernorm` asks for
 * LayerNorm on the gated cells; a cell without one (linear) gets false.
 */
export function parseTrainConfig(value: unknown, source = 'training config'): TrainConfig {
  const result = TrainConfigSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is not valid:\n${problems.join('\n')}`);
  }
  const config = result.data as TrainConfig;
  return { ...config, layernorm: cellLayerNorm(config.cell as CellKind, config.layernorm) };
}

export function checkInputSize(inputSize: number): void {
  if (inputSize > MAX_TRAIN_INPUT) throw new Error(`input size D=${inputSize} exceeds lwin's limit of ${MAX_TRAIN_INPUT} features per step`);
}
