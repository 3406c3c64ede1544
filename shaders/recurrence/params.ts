// The uniform block of the recurrent kernels: sizes of this dispatch, then the flat-buffer offset of every
// parameter tensor of the cell (field `o_<name>` with dots as underscores), generated from the cell's layout.
import { d } from '../../src/gpu/layout.ts';
import type { UniformDecl } from '../../src/gpu/program.ts';
import { cellTensors, type CellKind, type ModelConfig } from '../../src/model/cells.ts';

const SIZE_FIELDS = {
  batch: d.u32, // sequences in this call
  T: d.u32, // steps stored per sequence in x, ŷ and the intermediates
  D: d.u32,
  H: d.u32,
  t0: d.u32, // first step of this dispatch
  steps: d.u32, // steps in this dispatch
  slots: d.u32, // state slots per sequence in the stored-state buffer
  storeEvery: d.u32, // store the state after step t when (t + 1 - storeFrom) % storeEvery == 0 ...
  storeFrom: d.u32, // ... in slot (t + 1 - storeFrom) / storeEvery - 1
  startSlot: d.u32, // backward: the slot of `states` holding the state before step storeFrom, or NO_SLOT (the zero state)
};

/** `startSlot` value meaning "start from the zero state". */
export const NO_SLOT = 0xffffffff;

export type RecurrentSizes = { [K in keyof typeof SIZE_FIELDS]: number };

export function offsetField(tensor: string): string {
  return `o_${tensor.replace(/\./g, '_')}`;
}

type ScalarField = d.U32 | d.F32;
/** The uniform struct: the sizes, then one offset per tensor (and a kernel's own scalars after them). */
export type RecurrentSchema = d.WgslStruct<typeof SIZE_FIELDS & Record<string, ScalarField>>;
/** Values for it: the sizes and `tensorOffsets(layout)` (and the kernel's own scalars). */
export type RecurrentUniforms = RecurrentSizes & Record<string, number>;

const schemas = new Map<string, { schema: RecurrentSchema; names: string[] }>();

function build(cell: CellKind, layernorm: boolean, extra: Record<string, ScalarField>) {
  // Names and order of tensors depend only on the cell and the LayerNorm option, not on D or H.
  const names = cellTensors({ cell, inputSize: 1, hiddenSize: 1, layernorm }).map((t) => t.name);
  const offsets: Record<string, ScalarField> = Object.fromEntries(names.map((n) => [offsetField(n), d.u32]));
  const fields: typeof SIZE_FIELDS & Record<string, ScalarField> = { ...SIZE_FIELDS, ...offsets, ...extra };
  return { schema: d.struct(fields), names };
}

/**
 * The schema for a cell and LayerNorm option, and the tensor names whose offsets it carries; `extra` appends a
 * kernel's own scalar fields.
 */
export function recurrentParams(config: Pick<ModelConfig, 'cell' | 'layernorm'>, extra: Record<string, ScalarField> = {}) {
  const key = `${config.cell}/${config.layernorm}/${Object.keys(extra).join(',')}`;
  let entry = schemas.get(key);
  if (!entry) {
    entry = build(config.cell, config.layernorm, extra);
    schemas.set(key, entry);
  }
  return entry;
}

/** The recurrent kernels' uniform binding, `params: RecurrentParams`. */
export function recurrentUniform(config: Pick<ModelConfig, 'cell' | 'layernorm'>, extra: Record<string, ScalarField> = {}): UniformDecl<RecurrentSchema> {
  return { name: 'params', struct: 'RecurrentParams', schema: recurrentParams(config, extra).schema };
}
