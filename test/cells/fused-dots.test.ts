// Fused dot products (shaders/cells/held-weights.ts fuseCalls) and unit_sum's last level (shaders/cells/tile.ts
// unitSumTop): which calls one loop may compute together, and what of workgroup memory the sum takes. That the
// fused and two-barrier forms give the same bits as the plain ones is checked on the GPU by the tile tests (every
// held tile against the streamed default tile, test/cells/tiles.test.ts) and the float64 tests of every kernel.
// Also where the forward sums its readout (beside the next step's LayerNorm mean; its numbers: the forward tests, and
// checkpointed against stored, whose dispatches end at other steps, test/cells/backward.test.ts).
import { describe, expect, it } from 'vitest';
import { fuseCalls, helperCalls, statementStart } from '../../shaders/cells/held-weights.ts';
import { forwardProgram } from '../../shaders/recurrence/forward.ts';
import { backwardProgram } from '../../shaders/recurrence/backward.ts';
import { residentBlocks, sumLevels, tileArrayFloats, tileSequences, tileUnits, unitSumTop, WORKGROUP_FLOATS, type Tile } from '../../shaders/cells/tile.ts';
import { candidateTiles, makeTile, parseTile } from '../../src/cells/tiles.ts';
import type { CellKind } from '../../src/model/index.ts';

/** The groups of `shader`'s row-helper calls, as the offsets of their calls. */
function groups(shader: string): string[][] {
  const calls = helperCalls(shader);
  return fuseCalls(shader, calls).map((g) => g.map((c) => calls[c]!.args[0]!));
}

describe('fused dot products', () => {
  it('groups calls of one helper until its vector is written, within the first call\'s block, with uniform offsets', () => {
    const shader = `
fn main() {
  for (var k = 0u; k < params.steps; k++) {
    let a = row_x(params.o_wa) + row_h(params.o_a);
    let b = row_x(params.o_wb) + row_h(params.o_b + 64u);
    put_h(a); // h changes: later row_h calls start a new group
    let c = row_h(params.o_c);
    if (b.x > 0.0) {
      let d = row_h(params.o_d);
    }
    let e = row_h(params.o_e + k * params.H); // an offset of a local: never fused
    let f = row_h(params.o_f);
  }
  if (true) {
    let g = row_a(params.o_g);
  }
  let h = row_a(params.o_h); // outside g's block
}`;
    expect(groups(shader)).toEqual([['params.o_wa', 'params.o_wb'], ['params.o_a', 'params.o_b + 64u'], ['params.o_c', 'params.o_d', 'params.o_f']]);
  });

  it('groups row_x0 with row_x (both read x_t) until the step changes', () => {
    const shader = `
fn main() {
  let a = row_x(params.o_wa) + row_h(params.o_a);
  let s = row_x0(params.o_ws);
  tt = tt + 1u;
  let b = row_x0(params.o_wb);
  let c = row_x(params.o_wc);
}`;
    expect(groups(shader)).toEqual([['params.o_wa', 'params.o_ws'], ['params.o_wb', 'params.o_wc']]);
  });

  it('puts the loop before a whole statement only', () => {
    const shader = 'fn f() {\n  let a = 1.0 +\n    row_h(params.o_a);\n  let b = row_h(params.o_b);\n  let c = row_h(params.o_c);\n}';
    const calls = helperCalls(shader);
    expect(statementStart(shader, calls[0]!.start)).toBeUndefined();
    expect(statementStart(shader, calls[1]!.start)).toBe(shader.indexOf('  let b'));
    // The first call cannot take the loop; the next two can.
    expect(groups(shader)).toEqual([['params.o_b', 'params.o_c']]);
  });

  it.each<[CellKind, string[]]>([
    ['gru', ['row_x_fused0(3)', 'row_h_fused1(2)']],
    ['lstm', ['row_x_fused0(4)', 'row_h_fused1(4)']],
    ['diag', ['row_x_fused0(2)', 'row_h_fused1(2)']],
    // shared's gate reads x through row_x0 (one row for every unit): its loop is the candidate's row_x.
    ['shared', ['row_x_fused0(2)']],
  ])('%s: the CPU form of a held tile computes its forward step\'s gates in one loop per vector', (cell, expected) => {
    const tile: Tile = { ...parseTile('r4k1hp64wg64-u1', 64), held: true, dims: { H: 64, D: 16 }, unroll: 1, partials: 1 };
    const wgsl = forwardProgram({ cell, layernorm: true, tile, intermediates: true, keepDots: true, rows: 'columns' }).source();
    const made = [...wgsl.matchAll(/let fused\d+ = (row_\w+_fused\d+)\(([^)]*)\)/g)].map((m) => `${m[1]}(${m[2]!.split(',').length})`);
    expect(made).toEqual(expected);
    // GPU forms (unrolled, partial sums) keep one loop per dot product.
    const gpuTile: Tile = { ...tile, unroll: 8, partials: 8 };
    expect(forwardProgram({ cell, layernorm: true, tile: gpuTile, intermediates: true, keepDots: true, rows: 'columns' }).source()).not.toMatch(/_fused\d/);
  });
});

describe("unit_sum's last level", () => {
  it('takes its two sets only where a resident adjoint block (and the tangent\'s and ρ\'s one vector more) still fits', () => {
    expect(sumLevels(64)).toEqual([[8, 8], [8, 1]]);
    expect(sumLevels(128)).toEqual([[8, 16], [8, 2], [2, 1]]);
    expect(sumLevels(1)).toEqual([]);
    const bench = makeTile(64, 4, 64)!;
    expect(unitSumTop(bench)).toBe(2 * 4 * 8);
    for (const H of [1, 20, 64, 128, 130, 256, 300, 512, 1024]) {
      for (const t of candidateTiles(H)) {
        const vector = tileSequences(t) * tileUnits(t);
        const without = tileArrayFloats(t) - unitSumTop(t);
        expect(residentBlocks(t)).toBe(Math.min(4, Math.floor((WORKGROUP_FLOATS - without) / vector)));
        expect(tileArrayFloats(t) + vector).toBeLessThanOrEqual(WORKGROUP_FLOATS);
      }
    }
    // H = 1024 fills 16 KiB with hbuf, abuf, red and one adjoint block: unit_sum keeps its last level in red.
    expect(unitSumTop(makeTile(1024, 1)!)).toBe(0);
  });
});

describe("the forward's readout", () => {
  it.each<[CellKind, string]>([
    ['const', 'layer_norm_and(a_g, live, y_terms)'],
    ['gru', 'layer_norm_and(a_g, live, y_terms)'],
    ['shared', 'layer_norm_and2(a_g, live, select(V(0.0), pu(params.o_Us_weight) * hq, live), y_terms)'],
  ])("%s with LayerNorm: ŷ of a step is summed beside the next step's mean, the last after the loop", (cell, call) => {
    const tile: Tile = { ...parseTile('r4k1hp64wg64-u1', 64), held: true, dims: { H: 64, D: 16 }, unroll: 1, partials: 1 };
    const main = (layernorm: boolean) => {
      const wgsl = forwardProgram({ cell, layernorm, tile, intermediates: false, keepDots: true, rows: 'columns' }).source();
      return wgsl.slice(wgsl.indexOf('fn main('));
    };
    expect(main(true)).toContain(call);
    // One unit_sum in the kernel's own code: the dispatch's last ŷ, after the loop; without LayerNorm, ŷ's in the loop.
    expect(main(true).match(/\bunit_sum\(/g)).toHaveLength(1);
    expect(main(true)).toMatch(/}\n\s*let y_last = unit_sum\(y_terms\);/);
    expect(main(false)).toMatch(/let y = unit_sum\(/);
  });
});

describe('the replaying backward', () => {
  it("drops gru's r ⊙ h_{t-1} (put_a) and its barrier, which only row_a read; the recomputing one keeps them", () => {
    const tile: Tile = { ...parseTile('r4k1hp64wg64-u1', 64), held: true, dims: { H: 64, D: 16 }, unroll: 1, partials: 1 };
    const main = (replay: boolean) => {
      const wgsl = backwardProgram({ cell: 'gru', layernorm: true, tile, replay, rows: 'columns' }).source();
      return wgsl.slice(wgsl.indexOf('fn main('));
    };
    const barriers = (wgsl: string) => wgsl.match(/workgroupBarrier\(\)/g)?.length ?? 0;
    expect(main(false)).toMatch(/put_a\(select\(V\(0\.0\), r \* hq, live\)\);\n\s*workgroupBarrier\(\);/);
    expect(main(true)).not.toMatch(/put_a\(/);
    // Two barriers fewer: after put_a, and after h_{t-1}'s put into hbuf, which no replayed step reads either.
    expect(barriers(main(true))).toBe(barriers(main(false)) - 2);
  });
});
