// safetensors read/write of a model's parameters under their PyTorch state_dict names (SPEC §2), so that
// weights move between lwin and the reference PyTorch code both ways.
//
// File format (https://github.com/huggingface/safetensors): 8-byte little-endian u64 N, then N bytes of UTF-8
// JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the data;
// offsets are relative to the end of the header. Values are little-endian.
//
// Writing: tensors in layout order, F32 by default (F64 on request), header padded with spaces to 8 bytes.
// `__metadata__` = {cell, D, H, layernorm ("true"/"false"), const_s, lwin_version}; const_s is s_const for the
// const cell, and for other cells the initial gate passed as options.constS (omitted when not given).
// Reading: F64, F32, F16 and BF16 are accepted and converted to float64; tensors whose data_offsets overlap are
// refused. Which model the file holds, and the checks of its names, shapes, dtypes and values (no NaN/±Infinity),
// live in safetensors-model.ts: the layout comes from the caller, `__metadata__`, or the tensor names and shapes of
// a bare PyTorch state_dict (model/infer.ts), with the caller's hints (flags) taking precedence. One leniency: a
// const-cell file without `s_const` (a PyTorch export that dropped buffers) is accepted; s_const then comes from
// __metadata__.const_s or options.defaultConstS (default 0.05), and the result's `warnings` says so.
import packageJson from '../../package.json' with { type: 'json' };
import { DEFAULT_CONST_S } from '../model/init.ts';
import type { ModelHints } from '../model/infer.ts';
import { describeConfig, describeShape, shapeSize, type FloatArray, type ParamLayout } from '../model/params.ts';
import { DTYPE_BYTES, SafetensorsError, type SafetensorsDtype, type SafetensorsHeader, type TensorEntry } from './safetensors-format.ts';
import { checkFinite, checkTensors, resolveLayout } from './safetensors-model.ts';

export { SafetensorsError, type SafetensorsDtype, type SafetensorsHeader, type TensorEntry } from './safetensors-format.ts';
export { configFromMetadata } from './safetensors-model.ts';

/** lwin's version, written into `__metadata__.lwin_version`: package.json's, never restated. */
export const LWIN_VERSION: string = packageJson.version;

const METADATA_KEY = '__metadata__';

export interface WriteOptions {
  /** Storage dtype; F32 by default (what PyTorch models use). */
  dtype?: 'F32' | 'F64';
  /** Initial gate to record as const_s for shared/diag (the const cell records its s_const). */
  constS?: number;
  /** Extra `__metadata__` entries (string values); lwin's own keys win on a clash. */
  metadata?: Record<string, string>;
}

export interface ReadOptions {
  /** Expected layout; when absent, taken from `__metadata__` (cell, D, H, layernorm) or inferred from the tensors. */
  layout?: ParamLayout;
  /** Without a layout: what the caller knows of the model (e.g. from flags); overrides what inference finds. */
  hints?: ModelHints;
  /** s_const for a const-cell file that lacks it and has no __metadata__.const_s. Default 0.05. */
  defaultConstS?: number;
  /** Name used in messages, e.g. the file path. */
  source?: string;
}

export interface ReadResult {
  layout: ParamLayout;
  /** Flat parameters in `layout`, converted to float64. */
  params: Float64Array;
  metadata: Record<string, string>;
  /** The stored dtype of each tensor read. */
  dtypes: Record<string, SafetensorsDtype>;
  /** Accepted irregularities (a missing s_const), one sentence each. */
  warnings: string[];
}

export function writeSafetensors(layout: ParamLayout, params: FloatArray, options: WriteOptions = {}): Uint8Array {
  if (params.length !== layout.totalSize) {
    throw new Error(`parameter array has ${params.length} elements; the ${describeConfig(layout.config)} layout needs ${layout.totalSize}`);
  }
  const tensors = layout.tensors.map((t) => ({ name: t.name, shape: t.shape, data: params.subarray(t.offset, t.offset + t.size) }));
  return writeNamedTensors(tensors, writeMetadata(layout, params, options), options.dtype);
}

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** Any named tensors as a safetensors file (F32 by default), in the given order, with string metadata. */
export function writeNamedTensors(tensors: readonly NamedTensor[], metadata: Record<string, string>, dtype: 'F32' | 'F64' = 'F32'): Uint8Array {
  const width = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = { [METADATA_KEY]: metadata };
  let end = 0;
  for (const t of tensors) {
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [end, end + t.data.length * width] };
    end += t.data.length * width;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + end);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength); // pad with spaces, as the reference implementation does
  let at = 8 + headerLength;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, at += width) {
      if (dtype === 'F32') view.setFloat32(at, t.data[i]!, true);
      else view.setFloat64(at, t.data[i]!, true);
    }
  }
  return bytes;
}

/** Every tensor of a safetensors file, decoded to float64, with its shape; for files that are not one model. */
export function readNamedTensors(bytes: Uint8Array, source = 'the file'): { metadata: Record<string, string>; tensors: Map<string, { shape: number[]; data: Float64Array }> } {
  const header = parseSafetensorsHeader(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const [name, entry] of header.tensors) {
    const data = new Float64Array(entry.shape.reduce((a, b) => a * b, 1));
    decodeInto(view, header.dataStart + entry.dataOffsets[0], entry.dtype as SafetensorsDtype, data);
    tensors.set(name, { shape: entry.shape, data });
  }
  return { metadata: header.metadata, tensors };
}

function writeMetadata(layout: ParamLayout, params: FloatArray, options: WriteOptions): Record<string, string> {
  const { cell, inputSize, hiddenSize, layernorm } = layout.config;
  const sConst = layout.tensors.find((t) => t.name === 's_const');
  const constS = sConst ? params[sConst.offset]! : options.constS;
  return {
    ...options.metadata,
    cell,
    D: String(inputSize),
    H: String(hiddenSize),
    layernorm: String(layernorm),
    ...((layout.config.outputs ?? 1) !== 1 && { outputs: String(layout.config.outputs) }),
    // a stack of PyTorch's layers is read back as a PyTorch checkpoint (torch-model.ts), which these two keys tell
    ...((layout.config.layers ?? 1) > 1 && { layers: String(layout.config.layers), nonlinearity: cell === 'rnn_relu' ? 'relu' : 'tanh' }),
    ...(constS === undefined ? {} : { const_s: String(constS) }),
    lwin_version: LWIN_VERSION,
  };
}

/** Reads and checks the header's structure (not the tensor names: see readSafetensors). */
export function parseSafetensorsHeader(bytes: Uint8Array, source = 'the file'): SafetensorsHeader {
  if (bytes.length < 8) {
    throw new SafetensorsError(`${source} is truncated: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    throw new SafetensorsError(`${source} is truncated: its header claims ${declared} bytes but only ${bytes.length - 8} follow the length field`);
  }
  const headerLength = Number(declared);
  const dataStart = 8 + headerLength;
  const raw = parseHeaderJson(bytes.subarray(8, dataStart), source);
  const dataLength = bytes.length - dataStart;
  const metadata = parseMetadata(raw[METADATA_KEY], source);
  const tensors = new Map<string, TensorEntry>();
  for (const [name, entry] of Object.entries(raw)) {
    if (name !== METADATA_KEY) tensors.set(name, parseEntry(name, entry, dataLength, source));
  }
  checkNoOverlap(tensors, source);
  return { metadata, tensors, dataStart };
}

function parseHeaderJson(text: Uint8Array, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (err) {
    throw new SafetensorsError(`${source} has a bad header JSON (${(err as Error).message}); is it a safetensors file?`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SafetensorsError(`${source} has a bad header JSON: expected an object of tensors, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

function parseMetadata(raw: unknown, source: string): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SafetensorsError(`${source} has a bad header JSON: __metadata__ must be an object of strings`);
  // The format says string values; numbers and booleans written by other tools are taken as their text.
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function parseEntry(name: string, entry: unknown, dataLength: number, source: string): TensorEntry {
  const bad = (why: string) => new SafetensorsError(`${source} has a bad header JSON: tensor "${name}" ${why}`);
  if (typeof entry !== 'object' || entry === null) throw bad('is not an object with dtype, shape and data_offsets');
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('has no string "dtype"');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw bad(`has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw new SafetensorsError(`${source}: data_offsets out of range for tensor "${name}": [${begin}, ${end}] but the data section has ${dataLength} bytes (truncated file?)`);
  }
  const width = DTYPE_BYTES[dtype as SafetensorsDtype];
  if (width !== undefined && end - begin !== shapeSize(shape) * width) {
    throw new SafetensorsError(
      `${source}: data_offsets out of range for tensor "${name}": [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${describeShape(shape)} needs ${shapeSize(shape) * width}`,
    );
  }
  return { dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/** The format gives every tensor its own bytes: two tensors sharing bytes mean a corrupt or hand-edited header. */
function checkNoOverlap(tensors: ReadonlyMap<string, TensorEntry>, source: string): void {
  const spans = [...tensors].filter(([, e]) => e.dataOffsets[1] > e.dataOffsets[0]).sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [before, a] = spans[i - 1]!;
    const [after, b] = spans[i]!;
    if (b.dataOffsets[0] < a.dataOffsets[1]) {
      throw new SafetensorsError(
        `${source} has a bad header: tensors "${before}" [${a.dataOffsets.join(', ')}] and "${after}" [${b.dataOffsets.join(', ')}] overlap in data_offsets; ` +
          'the safetensors format gives every tensor its own bytes, so the file is corrupt or was written by a faulty tool: re-export it (e.g. safetensors.torch.save_file)',
      );
    }
  }
}

export function readSafetensors(bytes: Uint8Array, options: ReadOptions = {}): ReadResult {
  const source = options.source ?? 'the file';
  const header = parseSafetensorsHeader(bytes, source);
  const layout = resolveLayout(header, options, source);
  const warnings = checkTensors(header, layout, source);
  const params = new Float64Array(layout.totalSize);
  const dtypes: Record<string, SafetensorsDtype> = {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const t of layout.tensors) {
    const entry = header.tensors.get(t.name);
    if (!entry) continue; // only a const cell's s_const may be absent (checkTensors)
    const dtype = entry.dtype as SafetensorsDtype;
    dtypes[t.name] = dtype;
    decodeInto(view, header.dataStart + entry.dataOffsets[0], dtype, params.subarray(t.offset, t.offset + t.size));
  }
  checkFinite(layout, params, header, source);
  if (layout.config.cell === 'const' && !header.tensors.has('s_const')) {
    const s = layout.tensors.find((t) => t.name === 's_const')!;
    const fromMetadata = Number(header.metadata.const_s);
    const useMetadata = header.metadata.const_s !== undefined && Number.isFinite(fromMetadata);
    params[s.offset] = useMetadata ? fromMetadata : (options.defaultConstS ?? DEFAULT_CONST_S);
    warnings.push(
      `${source} has no s_const; using const_s = ${params[s.offset]} from ${useMetadata ? '__metadata__.const_s' : 'the default'} (check that this is the gate the model was trained with)`,
    );
  }
  return { layout, params, metadata: header.metadata, dtypes, warnings };
}

function decodeInto(view: DataView, at: number, dtype: SafetensorsDtype, out: Float64Array): void {
  const width = DTYPE_BYTES[dtype];
  for (let i = 0; i < out.length; i++) {
    const p = at + i * width;
    switch (dtype) {
      case 'F64':
        out[i] = view.getFloat64(p, true);
        break;
      case 'F32':
        out[i] = view.getFloat32(p, true);
        break;
      case 'F16':
        out[i] = float16ToNumber(view.getUint16(p, true));
        break;
      case 'BF16':
        out[i] = bfloat16ToNumber(view.getUint16(p, true));
        break;
    }
  }
}

/** IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits; subnormals, ±Inf and NaN included. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bfloat16: the upper 16 bits of a binary32. */
export function bfloat16ToNumber(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (bits & 0xffff) << 16);
  return view.getFloat32(0);
}
