// Kernels as declared programs (STYLE.md "Kernels as declared programs"): a kernel module says once what it binds,
// by name, with access mode and element type; its uniform schema; its workgroup size; and how many workgroups a
// call needs. The WGSL header (struct, `@binding` lines, `@workgroup_size`) is generated from that declaration and
// the host binds buffers by name through `Step.run`, so neither side ever counts bindings.
import type { AnyWgslStruct, InferInput } from 'typegpu/data';
import { wgslStruct } from './layout.ts';
import { programLabel, type KernelProgram } from './pipelines.ts';

/** Element type of a storage binding: the WGSL declaration is `array<type>`. */
export type ElementType = 'f32' | 'u32' | 'vec2f';

export interface BindingDecl {
  /** The WGSL variable name and the key the host passes the buffer under. */
  name: string;
  access: 'read' | 'read_write';
  type: ElementType;
}

export type Workgroups = readonly [number, number?, number?];
export type WorkgroupSize = readonly [number, number, number];

/** What a dispatch function may know of the adapter. */
export interface DispatchLimits {
  maxWorkgroupsPerDimension: number;
}

export interface UniformDecl<U extends AnyWgslStruct> {
  /** WGSL variable name (`params` unless the shader needs the name for a storage buffer). */
  name: string;
  /** WGSL struct name. */
  struct: string;
  schema: U;
}

/** The generated opening of a kernel's WGSL, for its `shader` function. */
export interface ShaderHead {
  /** The uniform struct and every `@group(0) @binding(i)` line, in declaration order. */
  declarations: string;
  /** The `@workgroup_size` arguments, e.g. `256` or `8, 8`. */
  workgroupSize: string;
  /** Threads per workgroup (x·y·z). */
  threads: number;
}

export type UniformValues<U> = U extends AnyWgslStruct ? InferInput<U> : undefined;

export interface ProgramSpec<U extends AnyWgslStruct | undefined, S> {
  name: string;
  /** Everything that changes the WGSL text; sizes that change per call are uniforms and never part of it. */
  variantKey: string;
  bindings: readonly BindingDecl[];
  /** Bound after the storage bindings. */
  uniform: U extends AnyWgslStruct ? UniformDecl<U> : undefined;
  workgroupSize: readonly [number, number?, number?];
  /** Workgroups for one call, from its sizes (by default, its uniform values). */
  dispatch: (sizes: S, limits: DispatchLimits) => Workgroups;
  shader: (head: ShaderHead) => string;
}

export interface Program<U extends AnyWgslStruct | undefined = AnyWgslStruct | undefined, S = UniformValues<U>> extends KernelProgram {
  readonly bindings: readonly BindingDecl[];
  readonly uniform: ProgramSpec<U, S>['uniform'];
  readonly workgroupSize: WorkgroupSize;
  readonly dispatch: (sizes: S, limits: DispatchLimits) => Workgroups;
}

const programs = new Map<string, Program<never, never>>();

/**
 * The program for a kernel family and variant, created once: steps look pipelines up by program object, so one
 * variant is always the same object. The shader text is generated only when the pipeline is first compiled.
 */
export function defineProgram<U extends AnyWgslStruct | undefined, S = UniformValues<U>>(spec: ProgramSpec<U, S>): Program<U, S> {
  const key = spec.variantKey ? `${spec.name}[${spec.variantKey}]` : spec.name;
  const known = programs.get(key);
  if (known) return known as unknown as Program<U, S>;
  const names = new Set<string>();
  for (const name of [...spec.bindings.map((b) => b.name), ...(spec.uniform ? [spec.uniform.name] : [])]) {
    if (names.has(name)) throw new Error(`kernel '${key}' declares the binding '${name}' twice; give each binding its own name.`);
    names.add(name);
  }
  const [x, y = 1, z = 1] = spec.workgroupSize;
  const workgroupSize: WorkgroupSize = [x, y, z];
  const program: Program<U, S> = {
    name: spec.name,
    variantKey: spec.variantKey,
    bindings: spec.bindings,
    uniform: spec.uniform,
    workgroupSize,
    dispatch: spec.dispatch,
    source: () => spec.shader(shaderHead(spec.bindings, spec.uniform, workgroupSize)),
  };
  programs.set(key, program as unknown as Program<never, never>);
  return program;
}

function shaderHead(bindings: readonly BindingDecl[], uniform: UniformDecl<AnyWgslStruct> | undefined, size: WorkgroupSize): ShaderHead {
  const lines = bindings.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${b.type}>;`);
  if (uniform) lines.push(`@group(0) @binding(${bindings.length}) var<uniform> ${uniform.name}: ${uniform.struct};`);
  const declarations = [...(uniform ? [wgslStruct(uniform.struct, uniform.schema)] : []), ...lines].join('\n');
  const [x, y, z] = size;
  return { declarations, workgroupSize: z > 1 ? `${x}, ${y}, ${z}` : y > 1 ? `${x}, ${y}` : `${x}`, threads: x * y * z };
}

/** Storage buffers in the program's binding order, after checking that `given` names exactly its bindings. */
export function orderBindings<B>(program: Program<never, never> | Program, given: Readonly<Record<string, B | undefined>>): B[] {
  const label = programLabel(program);
  const expected = program.bindings.map((b) => b.name);
  const list = expected.join(', ') || 'none';
  for (const name of Object.keys(given)) {
    if (given[name] !== undefined && !expected.includes(name)) {
      const hint = program.uniform?.name === name ? ' (the uniform buffer is made from the uniform values; pass those instead)' : '';
      throw new Error(`kernel '${label}' has no binding named '${name}'${hint}; its storage bindings are: ${list}.`);
    }
  }
  return expected.map((name) => {
    const buffer = given[name];
    if (buffer === undefined) throw new Error(`kernel '${label}' needs a buffer for its binding '${name}'; its storage bindings are: ${list}.`);
    return buffer;
  });
}
