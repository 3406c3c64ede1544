// The autotune of the recurrent kernels' thread tile: on first use of a (cell, LayerNorm, H, batch) on an adapter,
// time one short training step (forward + BPTT, 8 steps; 64 on a GPU, where timestamp queries time the kernels, and
// then the three fastest again at 256 steps) with each of a few tiles and keep the fastest, in the
// user's cache file keyed by the adapter's name, so later runs (and `lwin doctor`) read the choice instead of
// timing again. Tiles never change results (test/cells/tiles.test.ts), so a choice made on a busy machine costs
// speed only. LWIN_TILE (src/cells/tiles.ts) overrides it.
import { GpuContext } from '../gpu/context.ts';
import { checkedSubgroupSize } from '../gpu/device.ts';
import type { Storage } from '../io/storage.ts';
import { buildLayout, initParams, type CellKind } from '../model/index.ts';
import { tileKey, type Tile } from '../../shaders/cells/tile.ts';
import { recordBatchGradient } from './backward.ts';
import { byRows, chooseTile, defaultTile, devicePartials, forcedTile, heldFloats, lanesBySubgroup, makeTile, parseTile } from './tiles.ts';
import { GATE_BLOCKS } from '../../shaders/recurrence/backward.ts';

/** Where choices are kept: a JSON file `{ adapter: { "gru,ln,H64,B64": "r4k1hp64wg64", … } }` in `storage`. */
export interface TileCache {
  storage: Storage;
  path: string;
}

export interface TuneRequest {
  cell: CellKind;
  layernorm: boolean;
  hidden: number;
  input: number;
  batch: number;
}

export interface TileChoice {
  key: string;
  tile: string;
  /** How it was chosen: timed now, read from the cache, or forced by LWIN_TILE. */
  source: 'tuned' | 'cache' | 'forced';
  /** Milliseconds per timed step of each candidate, when tuned now. */
  timings?: Record<string, number>;
  /** On a GPU, the finalists' milliseconds per longer step (FINAL_STEPS steps), by which the tile was chosen. */
  finals?: Record<string, number>;
  /** Tiles left out because their gradient disagreed with the default tile's (sameResults): a driver's miscompilation. */
  rejected?: string[];
}

const TUNE_STEPS = 8;
const TUNE_STEPS_TIMED = 64;
const REPEATS = 3;

/**
 * The generation of the training kernels whose timings the cache holds, bumped when a change to them can change
 * which tile is fastest, so that choices timed on older kernels are timed again: 2 since BPTT replays the forward's
 * values (shaders/cells/replay.ts), which halved the backward kernels' time on lavapipe and changed lstm's choice;
 * 3 since a CPU adapter's held tiles fuse a step's dot products and workgroup vectors hold a group's sequences side
 * by side (shaders/cells/held-weights.ts, tile.ts), which cut lstm's forward kernel by more than half on lavapipe;
 * 4 since a CPU adapter's held tiles load their dot products' values by subgroups (held-weights.ts subgroupLoop);
 * 5 since those loops' passes are written out at H ≤ 64 and a step keeps one value per pre-activation (replay.ts);
 * 6 since LayerNorm's independent sums over units share one tree pass (tile.ts unitSumsWgsl), which takes
 * workgroup memory and so depends on the tile, and shared's gate holds its row of W_s;
 * 7 since a GPU's split tiles add their lanes by subgroup shuffles and hold 4 sequences a workgroup (-sg), and a
 * held tile's backward counts the columns it holds alone.
 */
export const KERNEL_GENERATION = 7;

/**
 * The cache key of a request: the kernels' generation (`,g<N>`), and `partials` (the device's,
 * src/cells/tiles.ts) adds `,c<P>` when above 1, so a run with LWIN_PARTIALS=1 on a GPU neither reads a split tile
 * chosen under 8 partials nor overwrites that choice.
 */
export function choiceKey(r: Pick<TuneRequest, 'cell' | 'layernorm' | 'hidden' | 'batch'>, partials = 1): string {
  return `${r.cell},${r.layernorm ? 'ln' : 'noln'},H${r.hidden},B${r.batch},g${KERNEL_GENERATION}${partials > 1 ? `,c${partials}` : ''}`;
}

/**
 * The tiles worth timing for a layer: the default, and 2 or 4 sequences per group at 64–128 threads (where they fit);
 * on a GPU each also reading weights by rows (caches there favour one layout or the other by cell and size: on
 * an H100 at H = 128, by columns halved const's recurrent time and made gru's a third slower), and held
 * (shaders/cells/held-weights.ts) where a thread's weights fit in registers (HELD_REGISTERS floats). A CPU adapter
 * reads both layouts alike and holds by default (src/cells/tiles.ts), so it times the shapes alone.
 */
export function shortlist(hidden: number, softwareAdapter = true, held?: { cell: CellKind; input: number }, device: ShortlistDevice = {}): Tile[] {
  const shapes = [defaultTile(hidden), makeTile(hidden, 2, 128), makeTile(hidden, 4, 64), makeTile(hidden, 4, 128)].filter((t): t is Tile => t !== undefined);
  // Held in every kernel where the forward's rows fit: the replaying backward holds U's columns alone, never more
  // (heldFloats), so where the forward's fit so do the backward's (`-pf`, the forward alone, is for LWIN_TILE).
  const holding = (t: Tile): Tile[] => {
    if (held === undefined) return [];
    const floats = heldFloats(t, GATE_BLOCKS[held.cell].length, { H: hidden, D: held.input }, 'forward');
    return floats <= heldBudget(t.threads) ? [{ ...t, held: true }] : [];
  };
  // Split units (several threads per unit) where the device's partial sums allow them: 2 lanes in 256 threads, 4 in
  // 512 where the adapter has them (at H = 128 that is what brings gru's and lstm's weights within a thread's
  // registers), by columns (the lanes of a unit read one coalesced row of a column block). Where the device's
  // subgroups are runs of consecutive invocations (`subgroup`), a unit's lanes add their sums by shuffles (-sg), no
  // barrier and no workgroup memory for them, which also lets a workgroup hold 4 sequences: at the paper's B = 512,
  // 128 workgroups, about one per multiprocessor of an H100 or H200, each holding its weights once for 4 sequences
  // (the persistent kernels' shape, PERF.md).
  const { partials = 1, maxThreads = 256, subgroup } = device;
  const splitShapes: [number, number, number][] = [[1, 256, 2], [2, 256, 2], [4, 256, 2], [1, 512, 4], [2, 512, 4], [4, 512, 4]];
  const splits = softwareAdapter
    ? []
    : splitShapes
        .filter(([, threads, split]) => threads <= maxThreads && partials % split === 0)
        .map(([R, threads, split]) => makeTile(hidden, R, threads, split, lanesBySubgroup(subgroup, split) ? 'subgroup' : undefined))
        .filter((t): t is Tile => t !== undefined);
  const tiles = softwareAdapter
    ? shapes
    : [...shapes.flatMap((t) => [t, byRows(t), ...holding(t)]), ...splits.flatMap((t) => [t, ...holding(t)])];
  return tiles.filter((t, i) => tiles.findIndex((u) => tileKey(u) === tileKey(t)) === i);
}

/** What of a device the shortlist depends on: its partial sums (src/cells/tiles.ts devicePartials), its most threads per workgroup, its checked subgroup size (src/gpu/device.ts checkedSubgroupSize). */
export interface ShortlistDevice {
  partials?: number;
  maxThreads?: number;
  subgroup?: number;
}

/**
 * Floats per thread a GPU candidate may hold: a little past the registers a thread has (255 on NVIDIA), so that the
 * one-gate cells at the paper's H = 128, D = 16 (272) are timed too; what spills goes to the thread's cached local
 * memory, and the autotune keeps a held tile only if it is faster.
 */
export const HELD_REGISTERS = 288;

/**
 * Floats a thread of a `threads`-thread workgroup may hold: HELD_REGISTERS up to 256 threads, proportionally fewer
 * above (a workgroup shares one register file: 64 K registers on NVIDIA, 128 a thread at 512 threads).
 */
export function heldBudget(threads: number): number {
  return Math.floor(HELD_REGISTERS * Math.min(1, 256 / threads));
}

type CacheFile = Record<string, Record<string, string>>;

async function readCache(cache: TileCache): Promise<CacheFile> {
  const bytes = await cache.storage.read(cache.path);
  if (!bytes) return {};
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as CacheFile) : {};
  } catch {
    return {}; // a damaged cache is only a lost choice: tune again and rewrite it
  }
}

/** The choices cached for `adapter` (for `lwin doctor`). */
export async function cachedChoices(cache: TileCache, adapter: string): Promise<Record<string, string>> {
  return (await readCache(cache))[adapter] ?? {};
}

/**
 * Milliseconds of one training step of each of `tiles` (after a warm-up round that compiles their pipelines): the
 * kernels' own time from timestamp queries where the device has them (a GPU's few-ms step is otherwise lost in the
 * host's noise), else wall-clock time; the least of REPEATS rounds. Each round times every tile once, in an order
 * that rotates from round to round, so that a stretch of load on a shared machine falls on all of them rather than
 * on one tile's steps (timed one tile after another, lavapipe once chose a tile 17% slower for linear).
 */
async function timeTiles(ctx: GpuContext, request: TuneRequest, tiles: Tile[], T = tuneSteps(ctx)): Promise<{ ms: number[]; disagree: number[] }> {
  const { cell, layernorm, hidden: H, input: D, batch: B } = request;
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });
  const buffers = {
    params: ctx.upload('autotune/P', Float32Array.from(initParams(layout, { seed: 1 }))),
    x: ctx.upload('autotune/x', new Float32Array(B * T * D).fill(0.5)),
    y: ctx.upload('autotune/y', new Float32Array(B * T)),
    yhat: ctx.storage('autotune/yhat', B * T * 4),
    grad: ctx.storage('autotune/grad', layout.totalSize * 4),
    loss: ctx.storage('autotune/loss', 4),
  };
  try {
    const best = tiles.map(() => Infinity);
    const disagree = new Set<number>();
    let reference: Float32Array | undefined;
    for (let round = 0; round <= REPEATS; round++) {
      for (let j = 0; j < tiles.length; j++) {
        const i = (j + round) % tiles.length;
        if (disagree.has(i)) continue;
        chooseTile(ctx.device, cell, layernorm, H, tiles[i]!);
        const step = ctx.step('autotune');
        recordBatchGradient(step, { layout, ...buffers, batch: B, steps: T });
        // Round 0 compiles the pipelines, untimed, and reads each tile's gradient: the first tile's is the reference.
        const grad = round === 0 ? step.readF32(buffers.grad) : undefined;
        ctx.profiler?.reset();
        const start = performance.now();
        await step.submit();
        const ms = ctx.profiler ? ctx.profiler.report().totalMs : performance.now() - start;
        if (round > 0) best[i] = Math.min(best[i]!, ms);
        if (grad) {
          const got = await grad;
          if (reference === undefined) reference = got;
          else if (!sameResults(reference, got)) disagree.add(i);
        }
      }
    }
    return { ms: best, disagree: [...disagree].sort((a, b) => a - b) };
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

/**
 * Whether a tile's gradient `got` agrees with the reference tile's `ref`: every entry within 1e-3 of the largest
 * |ref| (NaN never agrees). Tiles compute the same sums in the same order, so they agree bit for bit on every adapter
 * lwin was tested on; a driver that compiles a form wrongly (a split tile whose lanes are not one subgroup's, say)
 * is off by the size of the values, and its tile is left out of the choice instead of training a model wrongly.
 * The margin leaves room for a compiler that contracts a multiply and an add differently in another form.
 */
export function sameResults(ref: Float32Array, got: Float32Array): boolean {
  if (ref.length !== got.length) return false;
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  if (!Number.isFinite(scale)) return true; // a reference that is not finite cannot judge (the timing's data never overflow)
  const tolerance = 1e-3 * scale;
  for (let i = 0; i < ref.length; i++) if (!(Math.abs(got[i]! - ref[i]!) <= tolerance)) return false;
  return true;
}

/**
 * Steps of a timed training step: on a GPU the kernel time of 8 steps is mostly the fixed per-step work; with
 * timestamps (no host noise) 64 steps weigh the recurrence as training does. A CPU adapter's 8 steps already do (and
 * 64 would cost seconds per tile).
 */
function tuneSteps(ctx: GpuContext): number {
  return timedOnGpu(ctx) ? TUNE_STEPS_TIMED : TUNE_STEPS;
}

function timedOnGpu(ctx: GpuContext): boolean {
  return ctx.profiler?.source === 'timestamp-query' && !ctx.softwareAdapter;
}

/** Tiles a GPU's autotune times again, longer, before it chooses (finalists). */
export const FINALISTS = 3;
/** Steps of the finalists' timed training step: four dispatches of the recurrence per pass, as a long sequence runs. */
const FINAL_STEPS = 256;

/**
 * The shortlist's fastest FINALISTS tiles by `ms`, in order: on a GPU the autotune times them again at FINAL_STEPS
 * steps, and chooses among them by those. A lent H200 once chose lstm's r2 tile (76 ms a training step at the paper
 * size) over r4 (57 ms) from 64-step timings within 20% of each other, taken while the card was still slow from idle.
 */
export function finalists(tiles: Tile[], ms: number[], count = FINALISTS): Tile[] {
  return tiles
    .map((tile, i) => ({ tile, ms: ms[i]! }))
    .sort((a, b) => a.ms - b.ms)
    .slice(0, count)
    .map((t) => t.tile);
}

/**
 * Makes the training kernels on `ctx`'s device use the best tile for `request`: LWIN_TILE if set, else the
 * cached choice for this adapter, else the fastest of the shortlist, timed now and cached. Without a cache the
 * default tile stays (tests and embedders get fixed, untimed behaviour).
 */
export async function ensureTile(ctx: GpuContext, request: TuneRequest, cache: TileCache | undefined = ctx.options.tileCache, adapter = ctx.adapterName): Promise<TileChoice | undefined> {
  const partials = devicePartials(ctx.device, request.cell);
  const key = choiceKey(request, partials);
  const forced = forcedTile(request.hidden);
  if (forced) return { key, tile: tileKey(forced), source: 'forced' };
  if (!cache) return undefined;
  const file = await readCache(cache);
  const known = file[adapter]?.[key];
  if (known) {
    try {
      chooseTile(ctx.device, request.cell, request.layernorm, request.hidden, parseTile(known, request.hidden));
      return { key, tile: known, source: 'cache' };
    } catch {
      // a tile this version no longer offers: tune again
    }
  }
  // A context of its own, so the timing steps stay out of the caller's profile.
  const tuning = new GpuContext(ctx.device, { adapter: ctx.options.adapter, profile: ctx.device.features.has('timestamp-query') });
  const timings: Record<string, number> = {};
  let best: Tile | undefined;
  const device = { partials, maxThreads: ctx.device.limits.maxComputeInvocationsPerWorkgroup, subgroup: checkedSubgroupSize(ctx.device) };
  const tiles = shortlist(request.hidden, tuning.softwareAdapter, request, device);
  const { ms, disagree } = await timeTiles(tuning, request, tiles);
  const rejected = disagree.map((i) => tileKey(tiles[i]!));
  const agreeing = tiles.filter((_t, i) => !disagree.includes(i));
  const agreeingMs = ms.filter((_m, i) => !disagree.includes(i));
  agreeing.forEach((tile, i) => {
    timings[tileKey(tile)] = agreeingMs[i]!;
    if (!best || agreeingMs[i]! < timings[tileKey(best)]!) best = tile;
  });
  let finals: Record<string, number> | undefined;
  if (timedOnGpu(tuning) && agreeing.length > 1) {
    const last = finalists(agreeing, agreeingMs);
    const longMs = (await timeTiles(tuning, request, last, FINAL_STEPS)).ms;
    finals = Object.fromEntries(last.map((tile, i) => [tileKey(tile), longMs[i]!]));
    best = last[longMs.indexOf(Math.min(...longMs))];
  }
  tuning.destroy();
  chooseTile(ctx.device, request.cell, request.layernorm, request.hidden, best!);
  const fresh = await readCache(cache); // another process may have added choices meanwhile
  fresh[adapter] = { ...fresh[adapter], [key]: tileKey(best!) };
  await cache.storage.write(cache.path, `${JSON.stringify(fresh, null, 1)}\n`);
  return { key, tile: tileKey(best!), source: 'tuned', timings, ...(finals && { finals }), ...(rejected.length > 0 && { rejected }) };
}

/** "r1k1hp64wg256 2.1 ms, r4k1hp64wg64 0.9 ms" (and "; finalists at 256 steps: …", "; left out, …") for a log line. */
export function describeTimings(choice: Pick<TileChoice, 'timings' | 'finals' | 'rejected'>): string {
  const list = (t: Record<string, number>) => Object.entries(t).map(([tile, ms]) => `${tile} ${ms.toFixed(1)} ms`).join(', ');
  return [
    list(choice.timings ?? {}),
    ...(choice.finals ? [`finalists at ${FINAL_STEPS} steps: ${list(choice.finals)}`] : []),
    ...(choice.rejected ? [`left out, their gradients disagreeing with the default tile's (run lwin doctor): ${choice.rejected.join(', ')}`] : []),
  ].join('; ');
}
