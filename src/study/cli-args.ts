// `cli_args.csv` (`argument,value`): first the settings the reference's run scripts also have, under their argparse
// names and spelled as its `csv.writer` writes `vars(args)` (Python's str: `True`, `0.001`, `1.0`, `[25, 50, 100]`),
// in the reference's order; then lwin's other settings, flattened with dots (format.ts: flattenConfig). A setting
// appears once: under the reference's name when it has one.
import { flattenConfig } from './format.ts';

type Kind = 'int' | 'float' | 'str' | 'bool' | 'flag01' | 'ints' | 'floats' | 'joined';

interface ReferenceArgument {
  /** The reference's argparse name. */
  name: string;
  /** lwin's setting, a dot path into the study configuration. */
  path: string;
  kind: Kind;
}

/** The reference's arguments (run_learnability_DGX.py, then the GRU/LSTM script's extra) that lwin has, in its order. */
export const REFERENCE_ARGUMENTS: readonly ReferenceArgument[] = [
  { name: 'models', path: 'cells', kind: 'joined' },
  { name: 'seed', path: 'seed', kind: 'int' },
  { name: 'Nseq_train', path: 'trainSequences', kind: 'int' },
  { name: 'Nseq_diag', path: 'diagSequences', kind: 'int' },
  { name: 'T', path: 'task.steps', kind: 'int' },
  { name: 'D', path: 'task.inputSize', kind: 'int' },
  { name: 'H', path: 'model.hidden', kind: 'int' },
  { name: 'optimizer', path: 'optimizer.name', kind: 'str' },
  { name: 'momentum', path: 'optimizer.momentum', kind: 'float' },
  { name: 'epochs', path: 'epochs', kind: 'int' },
  { name: 'batch_size', path: 'batch', kind: 'int' },
  { name: 'lr', path: 'optimizer.lr', kind: 'float' },
  { name: 'weight_decay', path: 'optimizer.weightDecay', kind: 'float' },
  // The reference clips when grad_clip > 0; lwin's null (no clipping) is its 0.0.
  { name: 'grad_clip', path: 'optimizer.clip', kind: 'float' },
  { name: 'const_s', path: 'model.constS', kind: 'float' },
  { name: 'lag_min', path: 'lagGrid.min', kind: 'int' },
  { name: 'lag_max', path: 'lagGrid.max', kind: 'int' },
  { name: 'num_lags', path: 'lagGrid.num', kind: 'int' },
  { name: 'task_lags', path: 'task.lags', kind: 'ints' },
  { name: 'task_coeffs', path: 'task.coeffs', kind: 'floats' },
  { name: 'noise_std', path: 'task.noiseStd', kind: 'float' },
  { name: 'N_grid', path: 'budgets', kind: 'ints' },
  { name: 'eps', path: 'eps', kind: 'float' },
  { name: 'alpha_method', path: 'alphaMethod', kind: 'str' },
  { name: 'w_seed', path: 'wSeed', kind: 'int' },
  { name: 'include_first_order_diag', path: 'firstOrder', kind: 'flag01' },
  { name: 'orth_init', path: 'model.orthogonal', kind: 'bool' },
  { name: 'layernorm', path: 'model.layernorm', kind: 'bool' },
  { name: 'gate_log_every', path: 'gateLogEvery', kind: 'int' },
  { name: 'diag_batch_size', path: 'diagBatch', kind: 'int' },
];

/** Python's repr of a float: `1.0` for integral values, exponent form below 1e-4 or from 1e16 (`1e-05`). */
export function pythonFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  const text = String(x);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function spell(value: unknown, kind: Kind): string {
  const list = (v: unknown) => (Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>) : [v as number]);
  switch (kind) {
    case 'int': return String(value);
    case 'float': return pythonFloat(value === null ? 0 : Number(value));
    case 'str': return String(value);
    case 'bool': return value ? 'True' : 'False';
    case 'flag01': return value ? '1' : '0';
    case 'ints': return `[${list(value).map(String).join(', ')}]`;
    case 'floats': return `[${list(value).map(pythonFloat).join(', ')}]`;
    case 'joined': return list(value).map(String).join(',');
  }
}

function at(config: unknown, path: string): unknown {
  let value: unknown = config;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The rows of `cli_args.csv` (without the header): the reference's arguments, then lwin's other settings. */
export function cliArgsRows(config: object): [string, string][] {
  const used: string[] = [];
  const rows: [string, string][] = [];
  for (const { name, path, kind } of REFERENCE_ARGUMENTS) {
    const value = at(config, path);
    if (value === undefined) continue;
    rows.push([name, spell(value, kind)]);
    used.push(path);
  }
  const mapped = (key: string) => used.some((path) => key === path || key.startsWith(`${path}.`));
  return [...rows, ...flattenConfig(config).filter(([key]) => !mapped(key))];
}

