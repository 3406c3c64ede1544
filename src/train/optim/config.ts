// Optimizer names, configuration, defaults and validation (SPEC §3). Defaults are torch.optim's where SPEC names
// none: momentum 0.9 (sgd_momentum), betas (0.9, 0.999), eps 1e-8, alpha 0.99.

export type OptimizerName = 'sgd' | 'sgd_momentum' | 'adamw' | 'rmsprop';

export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'sgd_momentum', 'adamw', 'rmsprop'];

export interface OptimizerConfig {
  name: OptimizerName;
  lr: number;
  weightDecay: number;
  /** sgd_momentum only (default 0.9); dampening 0, no Nesterov. */
  momentum?: number;
  /** adamw only (default [0.9, 0.999]). */
  betas?: [number, number];
  /** adamw and rmsprop (default 1e-8). */
  eps?: number;
  /** rmsprop's smoothing constant (default 0.99). */
  alpha?: number;
  /** global-norm clip; null or 0: none */
  clip?: number | null;
}

/** A validated configuration with every default filled in; `clip` is null when there is none. */
export interface ResolvedOptimizerConfig extends OptimizerConfig {
  momentum: number;
  betas: [number, number];
  eps: number;
  alpha: number;
  clip: number | null;
}

export const OPTIMIZER_DEFAULTS = { momentum: 0.9, betas: [0.9, 0.999] as [number, number], eps: 1e-8, alpha: 0.99 };

export function isOptimizerName(value: unknown): value is OptimizerName {
  return typeof value === 'string' && (OPTIMIZER_NAMES as readonly string[]).includes(value);
}

export function parseOptimizerName(name: string): OptimizerName {
  if (isOptimizerName(name)) return name;
  throw new Error(`unknown optimizer "${name}"; expected one of ${OPTIMIZER_NAMES.join(', ')}`);
}

function check(ok: boolean, field: string, value: unknown, expected: string): void {
  if (!ok) throw new Error(`optimizer config: ${field} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Validates `config` as torch.optim does (plus finiteness) and fills in the defaults. */
export function resolveOptimizerConfig(config: OptimizerConfig): ResolvedOptimizerConfig {
  const name = parseOptimizerName(config.name);
  const { lr, weightDecay } = config;
  const momentum = config.momentum ?? OPTIMIZER_DEFAULTS.momentum;
  const betas = config.betas ?? OPTIMIZER_DEFAULTS.betas;
  const eps = config.eps ?? OPTIMIZER_DEFAULTS.eps;
  const alpha = config.alpha ?? OPTIMIZER_DEFAULTS.alpha;
  const clip = config.clip ?? null;
  check(finite(lr) && lr >= 0, 'lr', lr, 'a finite number ≥ 0');
  check(finite(weightDecay) && weightDecay >= 0, 'weightDecay', weightDecay, 'a finite number ≥ 0');
  check(finite(momentum) && momentum >= 0, 'momentum', momentum, 'a finite number ≥ 0');
  check(Array.isArray(betas) && betas.length === 2, 'betas', betas, 'a pair [β1, β2]');
  betas.forEach((b, i) => check(finite(b) && b >= 0 && b < 1, `betas[${i}]`, b, 'in [0, 1)'));
  check(finite(eps) && eps >= 0, 'eps', eps, 'a finite number ≥ 0');
  check(finite(alpha) && alpha >= 0 && alpha <= 1, 'alpha', alpha, 'in [0, 1]');
  check(clip === null || (finite(clip) && clip >= 0), 'clip', clip, 'a finite number > 0, or 0 or null for no clipping');
  return { name, lr, weightDecay, momentum, betas: [betas[0], betas[1]], eps, alpha, clip: clip === 0 ? null : clip };
}

/** "adamw (lr 0.001, weight decay 0.0001, clip 1)": for error messages and logs. */
export function describeOptimizer(config: OptimizerConfig): string {
  const clip = config.clip ? `, clip ${config.clip}` : '';
  return `${config.name} (lr ${config.lr}, weight decay ${config.weightDecay}${clip})`;
}
