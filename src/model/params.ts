// The flat parameter layout: every tensor of a model lives in one Float32Array/Float64Array at a named offset.
//
// Conventions (relied on by GPU code and the optimizers):
// - Offsets and sizes are in elements. Every tensor starts at a multiple of PARAM_ALIGNMENT (4 elements), so a
//   kernel may read it with vec4 loads; `totalSize` is rounded up to a multiple of 4 too.
// - Padding elements between tensors are 0, receive gradient 0 and are never read by the cells. Under every
//   optimizer of SPEC §3 a parameter that starts at 0 with gradient 0 stays 0, so padding may be updated freely.
// - The trainable tensors form a contiguous prefix [0, trainableSize); non-trainable buffers (the const cell's
//   `s_const`) follow it. An optimizer can therefore run over `params.subarray(0, trainableSize)`.
// - A tensor is stored row-major in its PyTorch shape: `Wx.weight` [H,D] has element (q,k) at offset + q·D + k.
import { cellTensors, type ModelConfig, type TensorDeclaration } from './cells.ts';

export const PARAM_ALIGNMENT = 4;

export interface TensorSpec {
  /** PyTorch state_dict key, e.g. `Wx.weight`. */
  name: string;
  /** PyTorch shape; `[]` for a scalar. */
  shape: readonly number[];
  /** First element in the flat array (a multiple of PARAM_ALIGNMENT). */
  offset: number;
  /** Number of elements (product of shape; 1 for a scalar). */
  size: number;
  trainable: boolean;
}

export interface ParamLayout {
  config: Readonly<ModelConfig>;
  /** In storage order: trainable tensors, then buffers. */
  tensors: readonly TensorSpec[];
  /** End of the trainable prefix (a multiple of PARAM_ALIGNMENT). */
  trainableSize: number;
  /** Length of the flat array (a multiple of PARAM_ALIGNMENT). */
  totalSize: number;
  /** Sum of the trainable tensors' sizes (padding excluded): the model's parameter count. */
  trainableCount: number;
}

export type FloatArray = Float32Array | Float64Array;

export function alignUp(n: number, alignment = PARAM_ALIGNMENT): number {
  return Math.ceil(n / alignment) * alignment;
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function buildLayout(config: ModelConfig): ParamLayout {
  const declared = cellTensors(config);
  const ordered = [...declared.filter((t) => t.trainable), ...declared.filter((t) => !t.trainable)];
  const tensors: TensorSpec[] = [];
  let end = 0;
  let trainableSize = 0;
  let trainableCount = 0;
  for (const t of ordered) {
    const offset = alignUp(end);
    const size = shapeSize(t.shape);
    tensors.push({ name: t.name, shape: [...t.shape], offset, size, trainable: t.trainable });
    end = offset + size;
    if (t.trainable) {
      trainableSize = alignUp(end);
      trainableCount += size;
    }
  }
  return { config: { ...config }, tensors, trainableSize, totalSize: alignUp(end), trainableCount };
}

export function findTensor(layout: ParamLayout, name: string): TensorSpec | undefined {
  return layout.tensors.find((t) => t.name === name);
}

export function getTensorSpec(layout: ParamLayout, name: string): TensorSpec {
  const spec = findTensor(layout, name);
  if (!spec) {
    throw new Error(`the ${describeConfig(layout.config)} model has no tensor "${name}"; it has ${layout.tensors.map((t) => t.name).join(', ')}`);
  }
  return spec;
}

/** Named views (subarrays, no copies) into a flat array laid out by `layout`. */
export class TensorViews<A extends FloatArray = Float64Array> {
  readonly layout: ParamLayout;
  readonly data: A;

  constructor(layout: ParamLayout, data: A) {
    if (data.length !== layout.totalSize) {
      throw new Error(`parameter array has ${data.length} elements; the ${describeConfig(layout.config)} layout needs ${layout.totalSize}`);
    }
    this.layout = layout;
    this.data = data;
  }

  has(name: string): boolean {
    return findTensor(this.layout, name) !== undefined;
  }

  get(name: string): A {
    const spec = getTensorSpec(this.layout, name);
    return this.data.subarray(spec.offset, spec.offset + spec.size) as A;
  }
}

export function allocateParams(layout: ParamLayout): Float64Array {
  return new Float64Array(layout.totalSize);
}

/** Zeroes every non-trainable element: tensors marked non-trainable and the padding. */
export function maskTrainable(layout: ParamLayout, values: FloatArray): void {
  const keep = new Uint8Array(layout.totalSize);
  for (const t of layout.tensors) if (t.trainable) keep.fill(1, t.offset, t.offset + t.size);
  for (let i = 0; i < values.length; i++) if (!keep[i]) values[i] = 0;
}

export function describeShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function describeConfig(config: ModelConfig): string {
  const head = config.outputs !== undefined && config.outputs !== 1 ? `, K=${config.outputs}` : '';
  return `${config.cell} (D=${config.inputSize}, H=${config.hiddenSize}${head}, layernorm ${config.layernorm ? 'on' : 'off'})`;
}

/** "Wx.weight [5,3], Wx.bias [5], …" — used in error messages. */
export function describeTensors(tensors: readonly Pick<TensorDeclaration, 'name' | 'shape'>[]): string {
  return tensors.map((t) => `${t.name} ${describeShape(t.shape)}`).join(', ');
}
