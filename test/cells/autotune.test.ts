// The tile autotune (src/cells/autotune.ts): first use times the shortlist and caches the fastest per adapter;
// later uses read the cache; a damaged cache is tuned again; LWIN_TILE wins; without a cache nothing is timed.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gpuLikeContext, useGpu } from '../support/gpu.ts';
import { memoryStorage } from '../../src/io/storage.ts';
import { CELL_KINDS } from '../../src/model/index.ts';
import { FINALISTS, KERNEL_GENERATION, choiceKey, describeTimings, ensureTile, finalists, sameResults, shortlist } from '../../src/cells/autotune.ts';
import { GPU_PARTIALS, chooseTile, defaultTile, defaultTileOn, devicePartials, gpuPartials, parseTile, tileFor } from '../../src/cells/tiles.ts';
import { tileKey } from '../../shaders/cells/tile.ts';

const gpu = useGpu();
const request = { cell: 'gru' as const, layernorm: true, hidden: 20, input: 3, batch: 9 };

afterEach(() => {
  vi.unstubAllEnvs();
  chooseTile(gpu.ctx.device, 'gru', true, 20, defaultTile(20));
});

/** The key of the tile gru uses at H = 20, without the dot products' unroll (the device's, never tuned or cached). */
const shapeInUse = () => tileKey({ ...tileFor(gpu.ctx.device, 'gru', true, 20), unroll: undefined });

describe('partial sums per cell', () => {
  afterEach(() => vi.unstubAllEnvs());
  it('a GPU sums gru\'s and lstm\'s (3+ gate blocks) in one chain and the other cells in 8; a CPU adapter all in one', () => {
    expect(Object.fromEntries(CELL_KINDS.map((c) => [c, gpuPartials(c)]))).toEqual({
      const: GPU_PARTIALS, shared: GPU_PARTIALS, diag: GPU_PARTIALS, gru: 1, lstm: 1, linear: GPU_PARTIALS, rnn: GPU_PARTIALS, rnn_relu: GPU_PARTIALS, torch_gru: 1, torch_lstm: 1,
    });
    expect(gpuPartials()).toBe(GPU_PARTIALS);
    expect(devicePartials(gpu.ctx.device, 'const')).toBe(1); // lavapipe
    vi.stubEnv('LWIN_PARTIALS', '4');
    expect(devicePartials(gpu.ctx.device, 'gru')).toBe(4);
  });
});

describe('tile autotune', () => {
  it('on a GPU the shortlist holds each shape by columns and by rows, and held where it fits registers; a CPU adapter times columns only', () => {
    const cpu = shortlist(20, true, { cell: 'gru', input: 3 }).map(tileKey);
    const gpuList = shortlist(20, false).map(tileKey);
    expect(cpu.every((k) => !k.endsWith('-rows') && !k.endsWith('-p'))).toBe(true);
    expect(gpuList.sort()).toEqual([...cpu, ...cpu.map((k) => `${k}-rows`)].sort());
    // gru at H = 20: the forward holds three gate blocks × (H + D) floats a thread, the replaying backward 3 × H; D = 3
    // and D = 60 fit HELD_REGISTERS (69; 240), D = 100 does not (360).
    expect(shortlist(20, false, { cell: 'gru', input: 3 }).map(tileKey).sort()).toEqual([...gpuList, ...cpu.map((k) => `${k}-p`)].sort());
    expect(shortlist(20, false, { cell: 'gru', input: 60 }).map(tileKey).sort()).toEqual([...gpuList, ...cpu.map((k) => `${k}-p`)].sort());
    expect(shortlist(20, false, { cell: 'gru', input: 100 }).map(tileKey).sort()).toEqual(gpuList);
    // the paper's size (H = 128, D = 16): the one-gate cells are timed held (144 floats), gru is not (432)
    expect(shortlist(128, false, { cell: 'const', input: 16 }).some((t) => t.held)).toBe(true);
    expect(shortlist(128, false, { cell: 'gru', input: 16 }).some((t) => t.held)).toBe(false);
    // A GPU's 8 partial sums add split tiles: 2 lanes in 256 threads, 4 in 512 where the adapter has them. gru's
    // weights then fit a thread's registers (2 lanes: forward 3 gates × (64 + 8) = 216 of 288 floats; 4 lanes:
    // 3 × (32 + 4) = 108 of the 144 a thread has in 512). Lanes meeting in workgroup memory leave no room for
    // 4 sequences of 4-lane units (r4 … wg512-s4).
    const gpu8 = shortlist(128, false, { cell: 'gru', input: 16 }, { partials: 8, maxThreads: 1024 }).map(tileKey);
    const splits = ['r1k1hp128wg256-s2', 'r2k1hp128wg256-s2', 'r4k1hp128wg256-s2', 'r1k1hp128wg512-s4', 'r2k1hp128wg512-s4'];
    expect(gpu8.filter((k) => k.includes('-s'))).toEqual(splits.flatMap((k) => [k, `${k}-p`]));
    // Where the device's subgroups are runs of 32 invocations, the lanes add by shuffles (-sg), and 4 sequences fit.
    const sg = shortlist(128, false, { cell: 'gru', input: 16 }, { partials: 8, maxThreads: 1024, subgroup: 32 }).map(tileKey);
    expect(sg.filter((k) => k.includes('-s'))).toEqual([...splits, 'r4k1hp128wg512-s4'].flatMap((k) => [`${k}-sg`, `${k}-sg-p`]));
    // lstm's four gate blocks with 4 lanes: 4 × (32 + 4) = 144 floats, just what a thread of 512 may hold.
    expect(shortlist(128, false, { cell: 'lstm', input: 16 }, { partials: 8, maxThreads: 1024, subgroup: 32 }).map(tileKey)).toContain('r4k1hp128wg512-s4-sg-p');
    expect(shortlist(128, false, { cell: 'const', input: 16 }, { partials: 8, maxThreads: 1024 }).map(tileKey)).toContain('r1k1hp128wg512-s4-p');
    expect(shortlist(128, false, { cell: 'gru', input: 16 }, { partials: 8 }).map(tileKey).filter((k) => k.includes('-s4'))).toEqual([]);
    expect(shortlist(128, true, { cell: 'gru', input: 16 }, { partials: 8, maxThreads: 1024 }).some((t) => t.split)).toBe(false);
  });

  it('a GPU adapter may choose a tile by rows: cached under its key and read back as such', async () => {
    const asGpu = gpuLikeContext(gpu);
    const cache = { storage: memoryStorage(), path: 'cache/tiles.json' };
    // D = 100 leaves held tiles out of the shortlist: on lavapipe their GPU form compiles for minutes.
    const tuned = await ensureTile(asGpu, { ...request, input: 100, batch: 5 }, cache, 'adapter G');
    expect(Object.keys(tuned!.timings!).sort()).toEqual(shortlist(20, false, { cell: 'gru', input: 100 }).map(tileKey).sort());
    // With timestamps, the three fastest are timed again at 256 steps, and the choice is the fastest of those.
    if (asGpu.device.features.has('timestamp-query')) {
      const finals = Object.entries(tuned!.finals!).sort((a, b) => a[1] - b[1]);
      expect(finals.map(([k]) => k).sort()).toEqual(finalists(Object.keys(tuned!.timings!).map((k) => parseTile(k, 20)), Object.values(tuned!.timings!)).map(tileKey).sort());
      expect(tuned!.tile).toBe(finals[0]![0]);
      expect(describeTimings(tuned!)).toContain('; finalists at 256 steps: ');
    } else {
      expect(tuned!.finals).toBeUndefined();
    }
    const rowsKey = `${tileKey(defaultTile(20))}-rows`;
    await cache.storage.write(cache.path, new TextEncoder().encode(JSON.stringify({ 'adapter G': { [choiceKey({ ...request, batch: 5 })]: rowsKey } })));
    chooseTile(gpu.ctx.device, 'gru', true, 20, defaultTile(20));
    expect(await ensureTile(asGpu, { ...request, batch: 5 }, cache, 'adapter G')).toEqual({ key: choiceKey({ ...request, batch: 5 }), tile: rowsKey, source: 'cache' });
    expect(tileFor(gpu.ctx.device, 'gru', true, 20).weights).toBe('rows');
  }, 180_000);

  it('a tile whose gradient disagrees with the default tile\'s by more than 1e-3 of its largest value is left out', () => {
    const ref = Float32Array.from([0.5, -2, 1e-6, 0]);
    expect(sameResults(ref, ref.slice())).toBe(true);
    expect(sameResults(ref, Float32Array.from([0.5 + 1e-4, -2, 1e-6 - 1e-3, 1e-3]))).toBe(true); // within 2e-3
    expect(sameResults(ref, Float32Array.from([0.5, -2, 1e-6, 2.1e-3]))).toBe(false);
    expect(sameResults(ref, Float32Array.from([0.5, -2, NaN, 0]))).toBe(false);
    expect(sameResults(ref, ref.slice(1))).toBe(false);
    expect(sameResults(Float32Array.from([NaN, 1]), Float32Array.from([0, 0]))).toBe(true); // no judge
    expect(describeTimings({ timings: { a: 1 }, rejected: ['b'] })).toBe("a 1.0 ms; left out, their gradients disagreeing with the default tile's (run lwin doctor): b");
  });

  it('finalists: the fastest few by their first timings, fastest first', () => {
    const tiles = shortlist(20, false);
    const ms = tiles.map((_t, i) => [5, 3, 9, 1, 4, 7][i % 6]! + i / 100);
    const picked = finalists(tiles, ms);
    expect(picked).toHaveLength(FINALISTS);
    expect(picked.map((t) => ms[tiles.indexOf(t)])).toEqual([...ms].sort((a, b) => a - b).slice(0, FINALISTS));
    expect(finalists(tiles.slice(0, 2), ms.slice(0, 2))).toEqual([tiles[1], tiles[0]]);
  });

  it('times every shortlisted tile once, keeps the fastest, and caches it under the adapter', async () => {
    const cache = { storage: memoryStorage(), path: 'cache/tiles.json' };
    const tuned = await ensureTile(gpu.ctx, request, cache, 'adapter A');
    expect(tuned?.source).toBe('tuned');
    expect(tuned?.rejected).toBeUndefined(); // every tile's gradient agrees with the default tile's
    const timings = tuned!.timings!;
    expect(Object.keys(timings).sort()).toEqual(shortlist(20).map(tileKey).sort());
    const fastest = Object.entries(timings).sort((a, b) => a[1] - b[1])[0]![0];
    expect(tuned!.tile).toBe(fastest);
    expect(shapeInUse()).toBe(fastest);
    const file = JSON.parse(new TextDecoder().decode(await cache.storage.read(cache.path)));
    expect(file).toEqual({ 'adapter A': { [choiceKey(request)]: fastest } });

    // Second use: from the cache, untimed; another adapter tunes its own.
    chooseTile(gpu.ctx.device, 'gru', true, 20, defaultTile(20));
    const again = await ensureTile(gpu.ctx, request, cache, 'adapter A');
    expect(again).toEqual({ key: choiceKey(request), tile: fastest, source: 'cache' });
    expect(shapeInUse()).toBe(fastest);
    expect((await ensureTile(gpu.ctx, { ...request, batch: 3 }, cache, 'adapter B'))?.source).toBe('tuned');
    const both = JSON.parse(new TextDecoder().decode(await cache.storage.read(cache.path)));
    expect(Object.keys(both).sort()).toEqual(['adapter A', 'adapter B']);
  }, 180_000);

  it('tunes again over a damaged cache or a tile this version does not offer', async () => {
    const cache = { storage: memoryStorage(), path: 'tiles.json' };
    await cache.storage.write(cache.path, '{ not json');
    expect((await ensureTile(gpu.ctx, request, cache, 'a'))?.source).toBe('tuned');
    await cache.storage.write(cache.path, JSON.stringify({ a: { [choiceKey(request)]: 'r9k9hp1wg1' } }));
    expect((await ensureTile(gpu.ctx, request, cache, 'a'))?.source).toBe('tuned');
  }, 180_000);

  it('does not read a choice timed on an older generation of the kernels', async () => {
    const cache = { storage: memoryStorage(), path: 'tiles.json' };
    const key = choiceKey(request);
    expect(key).toMatch(new RegExp(`,g${KERNEL_GENERATION}$`));
    // Generation 1 wrote keys without `,g`: its choice stays in the file, and this generation times its own.
    const older = key.replace(/,g\d+$/, '');
    await cache.storage.write(cache.path, JSON.stringify({ a: { [older]: 'r4k1hp32wg128' } }));
    const tuned = await ensureTile(gpu.ctx, request, cache, 'a');
    expect(tuned).toMatchObject({ key, source: 'tuned' });
    const file = JSON.parse(new TextDecoder().decode(await cache.storage.read(cache.path)));
    expect(file.a[older]).toBe('r4k1hp32wg128');
    expect(file.a[key]).toBe(tuned!.tile);
  }, 180_000);

  it('a split choice is cached under the device\'s partials: read back with 8, neither read nor overwritten with 1', async () => {
    const cache = { storage: memoryStorage(), path: 'tiles.json' };
    const split = 'r1k1hp32wg256-s2-pf';
    await cache.storage.write(cache.path, JSON.stringify({ a: { [choiceKey(request, 8)]: split } }));
    vi.stubEnv('LWIN_PARTIALS', '8');
    expect(await ensureTile(gpu.ctx, request, cache, 'a')).toEqual({ key: `${choiceKey(request)},c8`, tile: split, source: 'cache' });
    expect(tileFor(gpu.ctx.device, 'gru', true, 20, 3)).toMatchObject({ split: 2, held: 'forward', partials: 8, dims: { H: 20, D: 3 } });
    // One chain (this adapter's own setting): the split choice is not this key's, so it tunes the unsplit shortlist.
    vi.unstubAllEnvs();
    const tuned = await ensureTile(gpu.ctx, request, cache, 'a');
    expect(tuned).toMatchObject({ key: choiceKey(request), source: 'tuned' });
    expect(Object.keys(tuned!.timings!).some((k) => k.includes('-s'))).toBe(false);
    const file = JSON.parse(new TextDecoder().decode(await cache.storage.read(cache.path)));
    expect(file.a[choiceKey(request, 8)]).toBe(split);
  }, 180_000);

  it('LWIN_TILE overrides the cache; without a cache the default tile stays and nothing is timed', async () => {
    vi.stubEnv('LWIN_TILE', 'r2wg128');
    const cache = { storage: memoryStorage(), path: 'tiles.json' };
    expect(await ensureTile(gpu.ctx, request, cache, 'a')).toEqual({ key: choiceKey(request), tile: 'r2k1hp32wg128', source: 'forced' });
    expect(await cache.storage.read(cache.path)).toBeUndefined();
    vi.unstubAllEnvs();
    expect(await ensureTile(gpu.ctx, request, undefined, 'a')).toBeUndefined();
    expect(tileFor(gpu.ctx.device, 'gru', true, 20)).toEqual(defaultTileOn(gpu.ctx.device, 'gru', 20));
  });
});
