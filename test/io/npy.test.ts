// .npy reading and writing: numpy's own bytes, round trips, and refusals that name the file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNpy, readNpyFile, writeNpy } from '../../src/io/npy.ts';

// np.save(f, np.array([[1.5, -2.0], [3.25, 1e-300], [np.pi, -0.0]])) with numpy 2.4, base64-encoded.
const NUMPY_F8_3x2 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAADAAAAAAAAACkBZ8/jCH26lARgtRFT7IQlAAAAAAAAAAIA=';
// np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)).
const NUMPY_F4_2x3 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=';

// np.save(f, np.array([[0, 3, -2], [7, 1, 2]], dtype='<i8')): class labels as numpy saves them by default (numpy 1.24).
const NUMPY_I8_2x3 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAMAAAAAAAAA/v////////8HAAAAAAAAAAEAAAAAAAAAAgAAAAAAAAA=';
// np.save(f, np.array([255, 0, 9], dtype='|u1')) and np.save(f, np.array([-70000, 5], dtype='<i4')).
const NUMPY_U1_3 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr/AAk=';
const NUMPY_I4_2 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqQ7v7/BQAAAA==';

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

/** A .npy file with an arbitrary header dictionary (version 1), for the refusals. */
function npyWithHeader(dict: string, dataBytes: number, major = 1): Uint8Array {
  const preamble = major === 1 ? 10 : 12;
  const length = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  const header = dict.padEnd(length - 1, ' ') + '\n';
  const out = new Uint8Array(preamble + length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, length, true);
  else view.setUint32(8, length, true);
  out.set(Buffer.from(header, 'latin1'), preamble);
  return out;
}

describe('reading what numpy wrote', () => {
  it('float64, shape (3, 2)', () => {
    const array = parseNpy(fromBase64(NUMPY_F8_3x2), 'fixture.npy');
    expect(array.shape).toEqual([3, 2]);
    expect(array.dtype).toBe('<f8');
    expect(Array.from(array.data)).toEqual([1.5, -2, 3.25, 1e-300, Math.PI, -0]);
  });
  it('float32, shape (2, 3), and writeNpy reproduces numpy byte for byte', () => {
    const bytes = fromBase64(NUMPY_F4_2x3);
    const array = parseNpy(bytes, 'fixture.npy');
    expect(array.data).toBeInstanceOf(Float32Array);
    expect(Array.from(array.data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(writeNpy([2, 3], Float32Array.from([0, 1, 2, 3, 4, 5]))).toEqual(bytes);
    expect(writeNpy([3, 2], parseNpy(fromBase64(NUMPY_F8_3x2)).data as Float64Array)).toEqual(fromBase64(NUMPY_F8_3x2));
  });
  it('a version 2 header (4-byte length)', () => {
    const bytes = npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 2);
    new DataView(bytes.buffer).setFloat32(bytes.length - 4, 2.5, true);
    expect(Array.from(parseNpy(bytes).data)).toEqual([0, 2.5]);
  });
});

describe('round trips', () => {
  it.each([
    ['1-D float32', [5], Float32Array.from([1, -2, 3.5, 1e-30, 7])],
    ['3-D float64', [2, 1, 3], Float64Array.from([0.1, 0.2, 0.3, -1e300, 5, 6])],
    ['scalar', [], Float64Array.from([42])],
    ['empty', [0, 4], new Float32Array(0)],
  ] as const)('%s', (_name, shape, data) => {
    const bytes = writeNpy(shape, data);
    expect((bytes.length - data.byteLength) % 64).toBe(0); // header padded to 64 bytes, as numpy does
    const back = parseNpy(bytes);
    expect(back.shape).toEqual(shape);
    expect(back.data.constructor).toBe(data.constructor);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });
  it('reads data that is misaligned in memory', () => {
    const bytes = writeNpy([3], Float64Array.from([1, 2, 3]));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(parseNpy(shifted.subarray(1)).data)).toEqual([1, 2, 3]);
  });
  it('reads a file from disk', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lwin-npy-')), 'x.npy');
    writeFileSync(path, writeNpy([2], Float32Array.from([1, 2])));
    expect(readNpyFile(path).shape).toEqual([2]);
  });
  it('writeNpy refuses a shape that does not match the data', () => {
    expect(() => writeNpy([2, 2], new Float32Array(3))).toThrow(/shape \(2, 2\) has 4 elements but the data has 3/);
  });
});

describe('integers (class labels) read as float64', () => {
  it.each([
    ['int64, shape (2, 3)', NUMPY_I8_2x3, '<i8', [2, 3], [0, 3, -2, 7, 1, 2]],
    ['uint8, shape (3,)', NUMPY_U1_3, '|u1', [3], [255, 0, 9]],
    ['int32, shape (2,)', NUMPY_I4_2, '<i4', [2], [-70000, 5]],
  ])('%s', (_name, base64, dtype, shape, values) => {
    const a = parseNpy(fromBase64(base64 as string), 'labels.npy');
    expect(a.dtype).toBe(dtype);
    expect(a.shape).toEqual(shape);
    expect(a.data).toBeInstanceOf(Float64Array);
    expect([...a.data]).toEqual(values);
  });

  it('refuses an int64 beyond 2^53, naming the element', () => {
    const bytes = npyWithHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16);
    new DataView(bytes.buffer).setBigInt64(bytes.length - 8, 2n ** 60n, true);
    expect(() => parseNpy(bytes, 'big.npy')).toThrow("big.npy: element 1 is 1152921504606846976, beyond what float64 holds exactly (2^53); lwin reads integers as float64");
  });
});

describe('refusals name the file and say what to do', () => {
  const good = writeNpy([4], Float32Array.from([1, 2, 3, 4]));
  it.each([
    ['not a .npy file', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), /bad\.npy is not a \.npy file/],
    ['Fortran order', npyWithHeader("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32), /bad\.npy is stored in Fortran .*np\.ascontiguousarray/],
    ['a float16 dtype', npyWithHeader("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4), /bad\.npy holds dtype '<f2'; lwin reads float32 \('<f4'\), float64 \('<f8'\) and little-endian integers/],
    ['big-endian integers', npyWithHeader("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", 8), /bad\.npy holds dtype '>i4'/],
    ['big-endian floats', npyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8), /bad\.npy holds big-endian floats/],
    ['a structured dtype', npyWithHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8), /structured arrays are not supported/],
    ['truncated data', good.subarray(0, good.length - 1), /bad\.npy is truncated: shape \(4\) needs 16 bytes of data, the file has 15/],
    ['a truncated header', good.subarray(0, 40), /bad\.npy is truncated inside its header/],
    ['trailing bytes', Uint8Array.from([...good, 0]), /bad\.npy has 1 bytes after the data/],
  ])('%s', (_name, bytes, message) => {
    expect(() => parseNpy(bytes, 'bad.npy')).toThrow(message);
  });
  it('a missing file', () => {
    expect(() => readNpyFile('/nonexistent/psi.npy')).toThrow(/cannot read \/nonexistent\/psi\.npy/);
  });
});
