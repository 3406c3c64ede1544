// Partial sums and split units (shaders/cells/tile.ts): with P partial sums per dot product, every tile, split
// over 1, 2 or 4 threads per unit whose sums meet in workgroup memory or by subgroup shuffles, streamed or holding its
// weights, gives the same bits (the partials' tree does
// not depend on the split); and the P = 8 sums agree with float64 as closely as the one-chain sums do.
import { afterEach, describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { expectSameBits, tileProblem } from '../support/cells.ts';
import { buildLayout, initParams, CELL_KINDS, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import { OWN_CELL_KINDS } from '../../src/model/cells.ts';
import { chooseTile, defaultTile, heldFloats, makeTile, parseTile, tileFor } from '../../src/cells/tiles.ts';
import { dotLoop, sumTree } from '../../shaders/cells/dot-loop.ts';
import { tileKey, tileArrayFloats, tileSequences, type Tile } from '../../shaders/cells/tile.ts';
import { referenceBackward, referenceForward } from '../../src/reference/cells/index.ts';
import { compareToReference, describeComparison } from '../../src/reference/compare.ts';
import { forwardTolerance, gradientTolerance } from '../../src/doctor/tolerances.ts';

const gpu = useGpu();
const [B, T, H, D] = [11, 9, 20, 3];

afterEach(() => {
  for (const cell of CELL_KINDS) for (const ln of [false, true]) for (const h of [6, H]) chooseTile(gpu.ctx.device, cell, ln, h, defaultTile(h));
});

/** `key` with `partials` partial sums (a GPU's 8 unless given), streamed unless `held`. */
function partial(key: string, hidden: number, held: Tile['held'] = false, partials = 8): Tile {
  return { ...parseTile(key, hidden), partials, held };
}

describe('split tiles', () => {
  it('shapes: S threads per unit, S sets of partials in workgroup memory, keys with -s', () => {
    const t = makeTile(128, 1, 256, 2)!;
    expect(t).toEqual({ R: 1, K: 1, hp: 128, threads: 256, split: 2 });
    expect(tileKey(t)).toBe('r1k1hp128wg256-s2');
    expect(tileSequences(t)).toBe(1);
    // hbuf, abuf, red and two sets of S partials, and unit_sum's rtop: two sets of its tree's last level (2 at H = 128).
    expect(tileArrayFloats(t)).toBe((3 + 2 * 2) * 128 + 2 * 2);
    expect(makeTile(128, 1, 256, 4)).toEqual({ R: 1, K: 2, hp: 64, threads: 256, split: 4 });
    expect(parseTile('r2wg256-s2', 64)).toEqual({ R: 2, K: 1, hp: 64, threads: 256, split: 2 });
    expect(tileKey(parseTile('r1k1hp128wg256-s2-rows-u4-p', 128))).toBe('r1k1hp128wg256-s2-rows-u4-p');
    expect(() => parseTile('r1wg256-s3', 64)).toThrow(/-s3 is no split lwin has; use one of -s2, -s4/);
    // Lanes added by subgroup shuffles (-sg) take no workgroup memory for their partials, so 4 sequences of 4-lane units fit.
    const sg = makeTile(128, 4, 512, 4, 'subgroup')!;
    expect(sg).toEqual({ R: 4, K: 1, hp: 128, threads: 512, split: 4, lanes: 'subgroup' });
    expect(tileKey(sg)).toBe('r4k1hp128wg512-s4-sg');
    expect(tileArrayFloats(sg)).toBe(3 * 4 * 128 + 2 * 4 * 2);
    expect(makeTile(128, 4, 512, 4)).toBeUndefined();
    expect(parseTile('r4k1hp128wg512-s4-sg-p', 128)).toEqual({ ...sg, held: true });
    expect(tileKey(parseTile('r2wg256-s2-sg-rows-u4-pf', 64))).toBe('r2k1hp64wg256-s2-sg-rows-u4-pf');
    // A thread of gru's split tile at the paper size holds a quarter of its weights: what lets a GPU keep them in registers.
    expect(heldFloats(makeTile(128, 1, 256)!, 3, { H: 128, D: 16 }, 'recomputing backward')).toBe(816);
    expect(heldFloats(makeTile(128, 1, 256, 4)!, 3, { H: 128, D: 16 }, 'recomputing backward')).toBe(2 * 3 * (64 + 4));
    // The forward holds the rows of U and W, the replaying backward the columns of U alone.
    expect(heldFloats(makeTile(128, 4, 512, 4, 'subgroup')!, 3, { H: 128, D: 16 }, 'forward')).toBe(3 * (32 + 4));
    expect(heldFloats(makeTile(128, 4, 512, 4, 'subgroup')!, 3, { H: 128, D: 16 }, 'backward')).toBe(3 * 32);
    // A CPU adapter sums in one chain, so it cannot split a unit.
    expect(() => tileFor(gpu.ctx.device, 'gru', true, 64, 16)).not.toThrow();
    chooseTile(gpu.ctx.device, 'gru', true, 64, parseTile('r1wg128-s2', 64));
    expect(() => tileFor(gpu.ctx.device, 'gru', true, 64, 16)).toThrow(/splits a unit over 2 threads, but this device sums dot products in 1 partial; choose a tile without -s2 \(or set LWIN_PARTIALS=8\)/);
  });

  it('the partials\' tree: halves first, so a split adds the same subtrees', () => {
    expect(sumTree(['a', 'b', 'c', 'd'])).toBe('((a + b) + (c + d))');
    // Lanes of a 4-way split hold (a0,a1), (a2,a3), …: each adds its own pair, lane_sum the pairs' tree.
    expect(sumTree([sumTree(['a0', 'a1']), sumTree(['a2', 'a3']), sumTree(['a4', 'a5']), sumTree(['a6', 'a7'])])).toBe(sumTree(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']));
    const loop = dotLoop('n', 8, (j, s) => ({ loads: [`let p${s} = w[${j}];`], fmas: [`fma(p${s}, h[${j}], acc)`] }), 'V(0.0)', { partials: 8, split: 4 });
    expect(loop).toContain('var j = tlane * 2u;');
    expect(loop).toContain('acc1 = fma(p_1, h[(j + 1u)], acc1);');
    expect(loop).toContain('acc0 = fma(p_2, h[(j + 8u)], acc0);');
    expect(loop).toContain('if (j + 0u < n) { let p_t0 = w[(j + 0u)]; acc0 = fma(p_t0, h[(j + 0u)], acc0); }');
    expect(loop).toContain('return lane_sum((acc0 + acc1));');
  });
});

// lwin's own six cells and two of PyTorch's (torch_lstm's snippets are lstm's; test/cells/gpu-forms.test.ts
// compiles every cell's split tiles). The partial loops compile slowly on lavapipe, so most cells run 2 partials
// (one each for two lanes); gru, the cell with the most helpers (row_a, several col_d), runs a GPU's 8.
type Case = [CellKind, boolean, number];
const cases: Case[] = ([...OWN_CELL_KINDS, 'rnn', 'torch_gru'] as CellKind[]).map((cell): Case => [cell, cellLayerNorm(cell, true), cell === 'gru' ? 8 : 2]);

describe.each(cases)('%s (LayerNorm %s): %i partial sums', (cell, layernorm, partials) => {
  it(`split over 1, 2${partials >= 4 ? ' and 4' : ''} threads per unit gives the same bits; against float64 at B=${B} T=${T} H=${H} D=${D}`, async () => {
    const { layout, p, x, y, run } = tileProblem(gpu.ctx, cell, [B, T, H, D], 3, [1, 2], 3);
    // H = 20 with 8 partials is two whole blocks and a partial one (the guarded steps), D = 3 a partial block alone.
    const base = await run(partial('r1wg64', H, false, partials));
    const fwd = referenceForward(layout, p, { x, batch: B, steps: T });
    const c = compareToReference(base.forward.yhat, fwd.yHat, forwardTolerance(fwd.yHat));
    expect(c.ok, describeComparison('ŷ', c)).toBe(true);
    const ref = referenceBackward(layout, p, { x, y, batch: B, steps: T });
    const g = compareToReference(base.gradient.grad, ref.grad, gradientTolerance(layout, ref.grad));
    expect(g.ok, describeComparison('∂L/∂θ', g)).toBe(true);
    // Two sequences per group and two groups per workgroup, held in the CPU's loop form (unroll 1); gru also one group
    // of 4 lanes × 32 units streamed with a GPU's unroll of 8 (4 blocks per pass), and held in the forward alone (-pf).
    // Each also with its lanes added by subgroup shuffles (-sg; lavapipe's subgroups are 8 invocations).
    const tiles = [
      partial('r2wg128-s2-u1', H, true, partials),
      partial('r2wg128-s2-sg-u1', H, true, partials),
      ...(cell === 'gru' ? [partial('r1wg128-s4', H, false, partials), partial('r2wg128-s2-u1', H, 'forward', partials), partial('r4wg128-s4-sg', H, false, partials), partial('r2wg128-s4-sg-u1', H, 'forward', partials)] : []),
    ];
    for (const tile of tiles) expectSameBits(await run(tile), base, `tile ${tileKey(tile)}`);
  }, 240_000);
});

describe('held weights written out in full (the GPU form), split, give the streamed numbers', () => {
  it.each(['gru'] as CellKind[])('%s at B=5 T=7 H=6 D=3', async (cell) => {
    const h = 6;
    const { run } = tileProblem(gpu.ctx, cell, [5, 7, h, 3], 4, [5, 6], 2);
    const base = await run(partial('r1wg64-u2', h));
    // One thread per unit and four (H = 6: lanes 1–3 hold entries past the end, guarded; D = 3: lane 0 alone has any).
    for (const tile of [partial('r1wg64-u2', h, true), partial('r1wg128-s4-u2', h, true), partial('r1wg128-s4-sg-u2', h, true)]) expectSameBits(await run(tile), base, `tile ${tileKey(tile)} (held)`);
  }, 240_000);
});
