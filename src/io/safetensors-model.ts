// Which model a safetensors file holds, and whether its tensors can be used (SPEC §2 names): the configuration
// comes from the caller, from `__metadata__`, or from the tensor names and shapes (model/infer.ts) with the
// caller's hints winning; every name, shape and dtype problem is reported at once, and NaN/±Infinity weights are
// refused naming the tensor and element.
import { CELL_KINDS, LAYERNORM_PREFIX, cellTensors, hasLayerNorm, isCellKind, type ModelConfig } from '../model/cells.ts';
import { describeAmbiguity, inferModelConfigs, type ModelHints } from '../model/infer.ts';
import { buildLayout, describeConfig, describeShape, describeTensors, type ParamLayout } from '../model/params.ts';
import { DTYPE_BYTES, SafetensorsError, type SafetensorsHeader } from './safetensors-format.ts';

/** The model configuration recorded in `__metadata__`, or null when any of cell, D, H, layernorm is missing. */
export function configFromMetadata(metadata: Record<string, string>): ModelConfig | null {
  const { cell, D, H, layernorm } = metadata;
  if (cell === undefined || D === undefined || H === undefined || layernorm === undefined) return null;
  if (!isCellKind(cell)) throw new SafetensorsError(`__metadata__.cell is "${cell}"; expected one of ${CELL_KINDS.join(', ')}`);
  const inputSize = Number(D);
  const hiddenSize = Number(H);
  if (!Number.isInteger(inputSize) || inputSize < 1 || !Number.isInteger(hiddenSize) || hiddenSize < 1) {
    throw new SafetensorsError(`__metadata__ has D="${D}", H="${H}"; expected positive integers`);
  }
  if (layernorm !== 'true' && layernorm !== 'false') throw new SafetensorsError(`__metadata__.layernorm is "${layernorm}"; expected "true" or "false"`);
  if (layernorm === 'true' && !hasLayerNorm(cell)) {
    throw new SafetensorsError(`__metadata__ says layernorm "true" for the ${cell} cell, which has none (SPEC §12); the file's metadata is wrong: set it to "false"`);
  }
  // SPEC §13's K-output readout: `outputs` is written only when K ≠ 1, so the paper's files read as before
  const outputs = metadata.outputs === undefined ? 1 : Number(metadata.outputs);
  if (!Number.isInteger(outputs) || outputs < 1) throw new SafetensorsError(`__metadata__.outputs is "${metadata.outputs}"; expected the readout's K, a positive integer`);
  return { cell, inputSize, hiddenSize, layernorm: layernorm === 'true', ...(outputs !== 1 && { outputs }) };
}

/** The layout `header` is read with: the caller's, the metadata's, or the inferred one. */
export function resolveLayout(header: SafetensorsHeader, options: { layout?: ParamLayout; hints?: ModelHints }, source: string): ParamLayout {
  const recorded = configFromMetadata(header.metadata);
  if (options.layout) {
    if (recorded) checkAgainstMetadata(recorded, options.layout.config, source);
    return options.layout;
  }
  const hints = Object.fromEntries(Object.entries(options.hints ?? {}).filter(([, v]) => v !== undefined)) as ModelHints;
  if (recorded) {
    checkAgainstMetadata(recorded, { ...recorded, ...hints }, source);
    return buildLayout(recorded);
  }
  return buildLayout(inferConfig(header, hints, source));
}

function checkAgainstMetadata(recorded: ModelConfig, expected: ModelConfig, source: string): void {
  const clashes = (['cell', 'inputSize', 'hiddenSize', 'layernorm'] as const).filter((k) => recorded[k] !== expected[k]);
  if (clashes.length) {
    throw new SafetensorsError(`${source} holds a ${describeConfig(recorded)} model according to its __metadata__, but a ${describeConfig(expected)} model was expected`);
  }
}

/** A bare state_dict: the one configuration its names and shapes fit, or a refusal saying what is ambiguous or wrong. */
function inferConfig(header: SafetensorsHeader, hints: ModelHints, source: string): ModelConfig {
  const shapes = new Map([...header.tensors].map(([name, e]) => [name, e.shape]));
  const { matches, closest } = inferModelConfigs(shapes, hints);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new SafetensorsError(
      `${source} has no lwin __metadata__, and its tensors fit ${matches.length} models: ` +
        `${matches.map((m) => `${describeConfig(m)}${m.cell === 'const' && !header.tensors.has('s_const') ? ' without its s_const buffer' : ''}`).join('; ')}. ` +
        `They differ in ${describeAmbiguity(matches)}: ` +
        'say which (lwin diagnose --cells <cell>, --input-size, --hidden, --no-layernorm)',
    );
  }
  if (closest) return closest; // checkTensors lists its differences
  const listed = [...shapes].map(([n, s]) => `${n} ${describeShape(s)}`).join(', ') || 'none';
  if (hints.cell) {
    const fits = inferModelConfigs(shapes, { ...hints, cell: undefined }).matches;
    throw new SafetensorsError(
      `${source} has no ${cellTensorsFirstName(hints.cell)}, the first weight of the ${hints.cell} cell, so it does not hold a ${hints.cell} model; ` +
        `${fits.length ? `its tensors fit ${fits.map(describeConfig).join(' or ')}` : `its tensors are ${listed}`}: check the cell you gave (--cells)`,
    );
  }
  throw new SafetensorsError(
    `${source} has no lwin __metadata__ and none of the first weights lwin's cells start with ` +
      `(${CELL_KINDS.map((cell) => `${cell}: ${cellTensorsFirstName(cell)}`).join(', ')}); its tensors are ${listed}. ` +
      'lwin reads the state_dict of the reference modules (SPEC §2 names); if this is such a model, give the cell, D, H and layernorm (lwin diagnose --cells, --input-size, --hidden, --no-layernorm)',
  );
}

function cellTensorsFirstName(cell: ModelConfig['cell']): string {
  return cellTensors({ cell, inputSize: 1, hiddenSize: 1, layernorm: false })[0]!.name;
}

/** NaN or ±Infinity (or F64 beyond float32, where lwin computes) in any tensor: every such tensor, and its first bad element. */
export function checkFinite(layout: ParamLayout, params: Float64Array, header: SafetensorsHeader, source: string): void {
  const problems: string[] = [];
  for (const t of layout.tensors) {
    if (!header.tensors.has(t.name)) continue;
    let count = 0;
    let first = -1;
    for (let i = 0; i < t.size; i++) {
      if (!Number.isFinite(Math.fround(params[t.offset + i]!))) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (count) problems.push(`${t.name} holds ${count} non-finite value${count === 1 ? '' : 's'}; the first is ${params[t.offset + first]} at ${t.name}${elementIndex(t.shape, first)}`);
  }
  if (problems.length) {
    throw new SafetensorsError(
      [
        `${source} holds NaN or ±Infinity weights (or values beyond float32's range), with which every statistic would be NaN:`,
        ...problems.map((p) => `  - ${p}`),
        'such weights come from a run that diverged: use an earlier checkpoint, or retrain with a smaller learning rate or gradient clipping',
      ].join('\n'),
      problems,
    );
  }
}

/** "[2, 1]" for flat index 9 of a [4, 4] tensor; "" for a scalar. */
function elementIndex(shape: readonly number[], flat: number): string {
  if (shape.length === 0) return '';
  const index: number[] = [];
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index.unshift(flat % shape[axis]!);
    flat = Math.floor(flat / shape[axis]!);
  }
  return `[${index.join(', ')}]`;
}

/** Every name, shape and dtype problem at once; returns warnings for accepted irregularities. */
export function checkTensors(header: SafetensorsHeader, layout: ParamLayout, source: string): string[] {
  const expected = new Map(layout.tensors.map((t) => [t.name, t]));
  const optional = layout.config.cell === 'const' ? new Set(['s_const']) : new Set<string>();
  const missing = layout.tensors.filter((t) => !header.tensors.has(t.name) && !optional.has(t.name));
  const unexpected = [...header.tensors.keys()].filter((name) => !expected.has(name));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${describeTensors(missing)}`);
  if (unexpected.length) problems.push(`unexpected tensors: ${unexpected.map((n) => `${n} ${describeShape(header.tensors.get(n)!.shape)}`).join(', ')}`);
  for (const [name, entry] of header.tensors) {
    const spec = expected.get(name);
    if (spec && describeShape(entry.shape) !== describeShape(spec.shape)) {
      problems.push(`wrong shape: ${name} is ${describeShape(entry.shape)}, expected ${describeShape(spec.shape)}`);
    }
    if (spec && !(entry.dtype in DTYPE_BYTES)) problems.push(`unsupported dtype: ${name} is ${entry.dtype} (lwin reads ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (problems.length) {
    const hint = layerNormHint(layout, missing.map((t) => t.name), unexpected);
    const message = [
      `cannot read ${source} as a ${describeConfig(layout.config)} model:`,
      ...problems.map((p) => `  - ${p}`),
      ...(hint ? [`  hint: ${hint}`] : []),
      `expected tensors: ${describeTensors(layout.tensors)}`,
    ].join('\n');
    throw new SafetensorsError(message, problems);
  }
  return [];
}

function layerNormHint(layout: ParamLayout, missing: string[], unexpected: string[]): string | null {
  const prefix = `${LAYERNORM_PREFIX[layout.config.cell]}.`;
  if (!layout.config.layernorm && unexpected.some((n) => n.startsWith(prefix))) return 'the file has LayerNorm keys: was the model trained with layernorm on?';
  if (layout.config.layernorm && missing.length > 0 && missing.every((n) => n.startsWith(prefix))) return 'only the LayerNorm keys are missing: was the model trained with layernorm off?';
  return null;
}
