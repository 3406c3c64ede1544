// The one chunk-sizing rule (src/gpu/chunks.ts), as a table: each case names the bound that should decide.
import { describe, expect, it } from 'vitest';
import { sequencesPerChunk, DEFAULT_MEMORY_BUDGET, type ChunkRequest } from '../../src/gpu/chunks.ts';

const MiB = 2 ** 20;
/** WebGPU's default limits. */
const DEFAULTS = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };
const LARGE = { maxStorageBufferBindingSize: 2 ** 32 - 4, maxBufferSize: 2 ** 32 - 4 };

const paperTerms = { 'eval/x': 64 * 1024, 'eval/terms': 2 * MiB }; // gru, T=1024, H=128, D=16

const cases: { name: string; limits: typeof DEFAULTS; request: Omit<ChunkRequest, 'pass'>; expected: number }[] = [
  { name: 'the set when it is small', limits: DEFAULTS, request: { count: 5, buffers: { a: 1024 } }, expected: 5 },
  { name: 'the per-binding limit (paper gate terms, default limits)', limits: DEFAULTS, request: { count: 256, buffers: paperTerms }, expected: 64 },
  { name: 'the budget when the adapter binds more', limits: LARGE, request: { count: 8000, buffers: paperTerms }, expected: Math.floor(DEFAULT_MEMORY_BUDGET / (2 * MiB + 64 * 1024)) },
  { name: 'maxBufferSize when it is below the binding limit', limits: { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 8 * MiB }, request: { count: 256, buffers: paperTerms }, expected: 4 },
  { name: 'an explicit budget', limits: LARGE, request: { count: 100, buffers: { a: MiB, b: MiB }, budget: 10 * MiB }, expected: 5 },
  { name: 'bytesPerSequence instead of the sum', limits: LARGE, request: { count: 100, buffers: { a: MiB }, bytesPerSequence: 5 * MiB, budget: 10 * MiB }, expected: 2 },
  { name: 'the cap', limits: LARGE, request: { count: 1000, buffers: { a: 4 }, cap: 256 }, expected: 256 },
  { name: 'a requested batch over the budget', limits: LARGE, request: { count: 100, buffers: { a: MiB }, budget: MiB, batch: 7 }, expected: 7 },
  { name: 'the binding limit over a requested batch', limits: DEFAULTS, request: { count: 256, buffers: paperTerms, batch: 200 }, expected: 64 },
  { name: 'one sequence when the budget is below one', limits: LARGE, request: { count: 9, buffers: { a: MiB }, budget: 1 }, expected: 1 },
];

describe('sequencesPerChunk', () => {
  it.each(cases)('follows $name', ({ limits, request, expected }) => {
    const chunk = sequencesPerChunk(limits, { pass: 'test', ...request });
    expect(chunk).toBe(expected);
    for (const [label, bytes] of Object.entries(request.buffers)) {
      expect(chunk * bytes, `buffer ${label} of a chunk`).toBeLessThanOrEqual(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize));
    }
  });

  it('names the pass, the buffer and the limit when one sequence cannot fit', () => {
    expect(() => sequencesPerChunk(DEFAULTS, { pass: 'evaluation', count: 1, buffers: { 'eval/x': 4, 'eval/terms': 200 * MiB } })).toThrow(
      /evaluation: buffer 'eval\/terms' needs 209715200 bytes for a single sequence .* at most 134217728 bytes/,
    );
  });
});
