// NumPy .npy files (format versions 1–3), float32 and float64 little-endian, C order only: what lwin exchanges
// with numpy and PyTorch users (SPEC §1 user data, ψ samples). Reading also takes little-endian integers (numpy's
// default for class labels is int64), as float64 values. Anything else is refused with a message that names the file
// and says how to convert it.
import { readFileSync } from 'node:fs';

export type NpyDtype = '<f4' | '<f8';
/** Integer dtypes read (as float64): signed or unsigned, 1 to 8 bytes, little-endian ('|' for one byte). */
export type NpyIntDtype = `${'<' | '|'}${'i' | 'u'}${1 | 2 | 4 | 8}`;

export interface NpyArray {
  shape: number[];
  /** The file's dtype; integers arrive as float64 data. */
  dtype: NpyDtype | NpyIntDtype;
  /** Elements in C (row-major) order. */
  data: Float32Array | Float64Array;
}

export class NpyError extends Error {
  override name = 'NpyError';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const CONVERT_HINT = "convert it in numpy with np.save(path, np.ascontiguousarray(arr, dtype='<f4'))";

interface NpyHeader {
  dtype: NpyDtype | NpyIntDtype;
  shape: number[];
  dataOffset: number;
}

/** Reads the magic string, version and header length; returns the header text and where the data begins. */
function readPreamble(bytes: Uint8Array, source: string): { text: string; dataOffset: number } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyError(`${source} is not a .npy file (it does not start with the \\x93NUMPY magic string); save arrays with numpy.save`);
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major !== 1 && major !== 2 && major !== 3) throw new NpyError(`${source}: .npy format version ${major}.${bytes[7]} is not supported (1, 2 or 3 expected)`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new NpyError(`${source} is truncated inside its .npy preamble`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthBytes;
  const dataOffset = headerStart + headerLength;
  if (bytes.length < dataOffset) throw new NpyError(`${source} is truncated inside its header (${bytes.length} bytes, header ends at byte ${dataOffset})`);
  const decoder = new TextDecoder(major === 3 ? 'utf-8' : 'latin1');
  return { text: decoder.decode(bytes.subarray(headerStart, dataOffset)), dataOffset };
}

function parseDtype(text: string, source: string): NpyDtype | NpyIntDtype {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  if (descr === undefined) throw new NpyError(`${source}: the header has no simple 'descr' (structured arrays are not supported); ${CONVERT_HINT}`);
  if (descr === '<f4' || descr === '<f8') return descr;
  if (/^(<[iu][248]|[<|][iu]1)$/.test(descr)) return descr as NpyIntDtype;
  if (descr === '>f4' || descr === '>f8') throw new NpyError(`${source} holds big-endian floats ('${descr}'); ${CONVERT_HINT}`);
  throw new NpyError(`${source} holds dtype '${descr}'; lwin reads float32 ('<f4'), float64 ('<f8') and little-endian integers: ${CONVERT_HINT}`);
}

function itemBytes(dtype: NpyDtype | NpyIntDtype): number {
  return dtype === '<f4' ? 4 : dtype === '<f8' ? 8 : Number(dtype[2]);
}

/** Integers as float64; int64 and uint64 beyond 2^53 (not exact as a double) are refused, naming the element. */
function decodeIntegers(bytes: Uint8Array, offset: number, count: number, dtype: NpyIntDtype, source: string): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * itemBytes(dtype));
  const signed = dtype[1] === 'i';
  const size = itemBytes(dtype);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * size;
    let v: number;
    if (size === 8) {
      const big = signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
      if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new NpyError(`${source}: element ${i} is ${big}, beyond what float64 holds exactly (2^53); lwin reads integers as float64`);
      }
      v = Number(big);
    } else if (size === 4) v = signed ? view.getInt32(at, true) : view.getUint32(at, true);
    else if (size === 2) v = signed ? view.getInt16(at, true) : view.getUint16(at, true);
    else v = signed ? view.getInt8(at) : view.getUint8(at);
    out[i] = v;
  }
  return out;
}

function parseShape(text: string, source: string): number[] {
  const inside = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (inside === undefined) throw new NpyError(`${source}: the header has no 'shape' tuple (header: ${text.trim()})`);
  return inside
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s.length > 0)
    .map((s) => {
      const dim = Number(s);
      if (!Number.isInteger(dim) || dim < 0) throw new NpyError(`${source}: shape entry '${s}' is not a non-negative integer`);
      return dim;
    });
}

function parseHeader(bytes: Uint8Array, source: string): NpyHeader {
  const { text, dataOffset } = readPreamble(bytes, source);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  if (fortran === undefined) throw new NpyError(`${source}: the header has no 'fortran_order' (header: ${text.trim()})`);
  if (fortran === 'True') throw new NpyError(`${source} is stored in Fortran (column-major) order; ${CONVERT_HINT}`);
  return { dtype: parseDtype(text, source), shape: parseShape(text, source), dataOffset };
}

function decodeElements(bytes: Uint8Array, offset: number, count: number, dtype: NpyDtype): Float32Array | Float64Array {
  const itemSize = dtype === '<f4' ? 4 : 8;
  const typed = (buffer: ArrayBufferLike, at: number) => (dtype === '<f4' ? new Float32Array(buffer, at, count) : new Float64Array(buffer, at, count));
  const start = bytes.byteOffset + offset;
  if (LITTLE_ENDIAN_HOST && start % itemSize === 0) return typed(bytes.buffer, start); // a view, no copy
  if (LITTLE_ENDIAN_HOST) {
    // Misaligned for a typed view: copy into fresh memory (Buffer#slice would alias, so copy explicitly).
    const aligned = new Uint8Array(count * itemSize);
    aligned.set(bytes.subarray(offset, offset + aligned.length));
    return typed(aligned.buffer, 0);
  }
  const view = new DataView(bytes.buffer, start, count * itemSize);
  const out = dtype === '<f4' ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = dtype === '<f4' ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true);
  return out;
}

/** Parses .npy bytes; `source` names the file in error messages. The result may share memory with `bytes`. */
export function parseNpy(bytes: Uint8Array, source = 'the .npy data'): NpyArray {
  const header = parseHeader(bytes, source);
  const count = header.shape.reduce((a, b) => a * b, 1);
  const itemSize = itemBytes(header.dtype);
  const available = bytes.length - header.dataOffset;
  if (available < count * itemSize) {
    throw new NpyError(`${source} is truncated: shape (${header.shape.join(', ')}) needs ${count * itemSize} bytes of data, the file has ${available}`);
  }
  if (available > count * itemSize) {
    throw new NpyError(`${source} has ${available - count * itemSize} bytes after the data of shape (${header.shape.join(', ')}); it is not a single .npy array`);
  }
  const { dtype } = header;
  const data = dtype === '<f4' || dtype === '<f8' ? decodeElements(bytes, header.dataOffset, count, dtype) : decodeIntegers(bytes, header.dataOffset, count, dtype, source);
  return { shape: header.shape, dtype, data };
}

/** Reads and parses a .npy file. */
export function readNpyFile(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new NpyError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return parseNpy(bytes, path);
}

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** Encodes a C-order float32 or float64 array as .npy bytes (version 1, header padded to 64 bytes, as numpy). */
export function writeNpy(shape: readonly number[], data: Float32Array | Float64Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`writeNpy: shape (${shape.join(', ')}) must hold non-negative integers`);
  if (count !== data.length) throw new NpyError(`writeNpy: shape (${shape.join(', ')}) has ${count} elements but the data has ${data.length}`);
  const dtype: NpyDtype = data instanceof Float32Array ? '<f4' : '<f8';
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const major = dict.length + 12 > 65535 ? 2 : 1;
  const preamble = major === 1 ? 10 : 12;
  const padded = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  const header = dict + ' '.repeat(padded - dict.length - 1) + '\n';
  const out = new Uint8Array(preamble + padded + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded, true);
  else view.setUint32(8, padded, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const body = preamble + padded;
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), body);
    return out;
  }
  for (let i = 0; i < data.length; i++) {
    if (dtype === '<f4') view.setFloat32(body + 4 * i, data[i]!, true);
    else view.setFloat64(body + 8 * i, data[i]!, true);
  }
  return out;
}
