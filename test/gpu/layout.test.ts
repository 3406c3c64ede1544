// Host/shader struct layouts: the bytes typegpu writes are the bytes the WGSL struct reads.
import { describe, expect, it } from 'vitest';
import { MatmulParams } from '../../shaders/matmul.ts';
import { ReduceParams } from '../../shaders/reduce.ts';
import { byteSizeOf, packStruct, unpackStruct, wgslStruct } from '../../src/gpu/layout.ts';

function words(bytes: ArrayBuffer): { u32: number[]; f32: number[] } {
  return { u32: [...new Uint32Array(bytes)], f32: [...new Float32Array(bytes)] };
}

describe('uniform layouts', () => {
  it('MatmulParams: four u32 in declaration order, 16 bytes', () => {
    expect(byteSizeOf(MatmulParams)).toBe(16);
    const bytes = packStruct(MatmulParams, { rows: 111, k: 22, n: 3, rowTiles: 2 });
    expect(words(bytes).u32).toEqual([111, 22, 3, 2]);
    expect(wgslStruct('MatmulParams', MatmulParams)).toBe('struct MatmulParams {\n  rows: u32,\n  k: u32,\n  n: u32,\n  rowTiles: u32,\n}');
  });

  it('ReduceParams: u32 ×5 then f32 count and one, 28 bytes', () => {
    expect(byteSizeOf(ReduceParams)).toBe(28);
    const value = { segments: 5, length: 4097, chunk: 4096, chunks: 2, lanes: 256, count: 4097, one: 1 };
    const bytes = packStruct(ReduceParams, value);
    expect(words(bytes).u32.slice(0, 5)).toEqual([5, 4097, 4096, 2, 256]);
    expect(words(bytes).f32.slice(5)).toEqual([4097, 1]);
    expect(unpackStruct(ReduceParams, bytes)).toEqual(value);
  });
});
