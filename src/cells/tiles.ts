// Which thread tile (shaders/cells/tile.ts) the training kernels run with. Every tile computes the same sums in
// the same order per (sequence, unit) for the device's partial sums (devicePartials), so the choice changes speed,
// never results (test/cells/tiles.test.ts). `LWIN_TILE=r4k1hp64wg256`
// (Node) forces one, for benchmarks and tests.
import { DOT_UNROLL, residentBlocks, tileKey, tileSplit, tileWidth, type HeldDims, type Tile } from '../../shaders/cells/tile.ts';
import type { CellKind } from '../model/cells.ts';
import { GATE_BLOCKS } from '../../shaders/recurrence/backward.ts';
import { envChoice, envSetting } from '../gpu/runtime.ts';
import { onSoftwareAdapter } from '../gpu/context.ts';
import { checkedSubgroupSize } from '../gpu/device.ts';

/** Largest hidden width H of the training kernels: 256 threads × 4 units each. */
export const MAX_TRAIN_HIDDEN = 1024;
/** Largest input width D of the training kernels (x is read from storage, so only a sanity bound: a layer above reads D = H). */
export const MAX_TRAIN_INPUT = 1024;
const THREADS = 256;

function pow2ceil(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * The tile with R sequences per thread group and `threads` invocations for H units, `split` threads per unit (adding
 * their sums by subgroup shuffles with `lanes` 'subgroup'), or undefined if none fits.
 */
export function makeTile(hidden: number, R: number, threads = THREADS, split = 1, lanes?: Tile['lanes']): Tile | undefined {
  const hp = Math.min(threads / split, Math.max(32, pow2ceil(hidden)));
  const K = pow2ceil(Math.ceil(hidden / hp)); // a power of two, so K·hp (unit_sum's tree) depends on H alone
  const tile: Tile = { R, K, hp, threads, ...(split > 1 && { split, ...(lanes && { lanes }) }) };
  // The padded units K·hp must be every tile's (unit_sum's tree spans them, so a narrower split tile would change the sums).
  if (!Number.isInteger(hp) || K * hp !== paddedUnits(hidden)) return undefined;
  if (tileWidth(tile) > 4 || threads % (hp * split) !== 0 || residentBlocks(tile) < 1) return undefined;
  return tile;
}

/** Units of every tile for H, padded: unit_sum's tree, and so LayerNorm's sums, depend on this alone. */
function paddedUnits(hidden: number): number {
  const hp = Math.min(THREADS, Math.max(32, pow2ceil(hidden)));
  return hp * pow2ceil(Math.ceil(hidden / hp));
}

/** The default tile: one sequence per thread group, as many units per thread as H needs. */
export function defaultTile(hidden: number): Tile {
  if (hidden > MAX_TRAIN_HIDDEN) throw new RangeError(`hidden size H=${hidden} exceeds the recurrent kernels' limit of ${MAX_TRAIN_HIDDEN}`);
  const tile = makeTile(hidden, 1);
  if (!tile) throw new RangeError(`no recurrent tile fits H=${hidden}`);
  return tile;
}

const UNROLLS = [1, 2, 4, 8, 16];

/** Threads per unit a split tile may have (`-s<n>`): at most the GPU's partial sums. */
export const SPLITS = [2, 4];

/**
 * Partial sums per dot product of `cell`'s kernels on `device` (shaders/cells/tile.ts): LWIN_PARTIALS, else 1 on a
 * CPU adapter (a thread's four components already give a core four chains, and the partials' longer loops compile
 * slower), else 1 for cells of three or more gate blocks (gru, lstm and PyTorch's), else GPU_PARTIALS. Not a tile's
 * choice: it changes the sums' order, so results change with it (within float rounding), and with it alone; the
 * autotune never picks it. Measured on an H200 at the paper size (bench/RESULTS.md, `bench ab`, interleaved): 8
 * partials took const's and linear's training step 1.4× faster than 1, and shared's and diag's about the same, but
 * made lstm's 1.47× slower (forward 23.6 → 42.8 ms) and gru's 1.09× (1, 2 and 4 partials: lstm 62.5, 71.8, 79.2 ms
 * against 91.6). Without a cell (the doctor's summary line), the many-gate cells' exception does not apply.
 */
export function devicePartials(device: GPUDevice, cell?: CellKind): number {
  const forced = envChoice('LWIN_PARTIALS', PARTIALS, `partial sums per dot product; default ${GPU_PARTIALS} on GPUs (1 for gru and lstm), 1 on CPU adapters`);
  if (forced !== undefined) return forced;
  return onSoftwareAdapter(device) ? 1 : gpuPartials(cell);
}

/** A GPU's partial sums for `cell`'s dot products (see devicePartials): 1 from ONE_CHAIN_GATES gate blocks, else GPU_PARTIALS. */
export function gpuPartials(cell?: CellKind): number {
  return cell !== undefined && GATE_BLOCKS[cell].length >= ONE_CHAIN_GATES ? 1 : GPU_PARTIALS;
}

/** Gate blocks from which a GPU sums a cell's dot products in one chain (see devicePartials). */
export const ONE_CHAIN_GATES = 3;

const PARTIALS = [1, 2, 4, 8];
/** A GPU's partial sums: 8 chains of fused multiply-adds in flight per thread, and split tiles up to 4 lanes. */
export const GPU_PARTIALS = 8;

/**
 * The dot products' unroll on `device` for a tile that names none: LWIN_UNROLL, else 1 on a CPU adapter (there the
 * unrolled loops take LLVM 4–7× longer to compile, and a core keeps its own loads in flight), else DOT_UNROLL.
 */
export function deviceUnroll(device: GPUDevice): number {
  return envChoice('LWIN_UNROLL', UNROLLS, `steps of a dot product per loop pass; default ${DOT_UNROLL} on GPUs`) ?? (onSoftwareAdapter(device) ? 1 : DOT_UNROLL);
}

/**
 * Whether the kernels on `device` hold their weights (shaders/cells/held-weights.ts) for a tile that does not say:
 * LWIN_HOLD (0 or 1), else on a CPU adapter while H + D ≤ HELD_UNITS_CPU (training steps 13–19% faster on
 * lavapipe, same compile time), else not: on a GPU held weights pay only while they fit in registers, which the
 * autotune finds out by timing (src/cells/autotune.ts).
 */
export function deviceHolds(device: GPUDevice, dims: HeldDims): boolean {
  return forcedHold() ?? holdsByDefault(device, dims);
}

function holdsByDefault(device: GPUDevice, dims: HeldDims): boolean {
  return onSoftwareAdapter(device) && dims.H + dims.D <= HELD_UNITS_CPU;
}

/** LWIN_HOLD (a benchmark switch): whether every tile holds its weights, over a key's `-p` and the autotune's choice. */
function forcedHold(): boolean | undefined {
  const forced = envChoice('LWIN_HOLD', [0, 1], 'hold the recurrent weights per thread (1) or read them from storage at every step (0)');
  return forced === undefined ? undefined : forced === 1;
}

/**
 * Largest H + D a CPU adapter holds by default: each invocation keeps K·(H or D) floats per weight matrix in its own
 * memory (gru's backward: nine matrices), so a workgroup of 256 at H = 1024 would need tens of MiB.
 */
export const HELD_UNITS_CPU = 512;

/**
 * Floats a thread of `tile` holds at most in `kernel`: in the forward each gate block's row of U and row of W; in
 * the backward that replays the forward's dot products (the training default: shaders/cells/replay.ts) each gate
 * block's column of U alone; in one that recomputes them (`LWIN_REPLAY=off`, or where the kept values would not fit
 * the adapter) rows, columns and W. A split tile's thread holds 1/S of each, in whole blocks of the GPU's partials.
 */
export function heldFloats(tile: Tile, gates: number, dims: HeldDims, kernel: 'forward' | 'backward' | 'recomputing backward'): number {
  const split = tileSplit(tile);
  const share = (n: number) => (split > 1 ? Math.ceil(n / GPU_PARTIALS) * (GPU_PARTIALS / split) : n);
  const perGate = { forward: share(dims.H) + share(dims.D), backward: share(dims.H), 'recomputing backward': 2 * share(dims.H) + share(dims.D) }[kernel];
  return tile.K * gates * perGate;
}

/**
 * `tile` as the kernels on `device` run it for a layer of H units and D inputs: its unroll settled (a key's `-u<n>`
 * wins; see deviceUnroll), and held with these dims if LWIN_HOLD says so, else if its key says `-p`, else if the
 * device holds by default. Without dims (a caller after the weight layout only) it stays streamed.
 */
function settled(device: GPUDevice, cell: CellKind, tile: Tile, dims?: HeldDims): Tile {
  const unroll = tile.unroll ?? deviceUnroll(device);
  const hold = dims !== undefined ? forcedHold() ?? tile.held ?? holdsByDefault(device, dims) : false;
  const held = hold === 'forward' ? hold : hold === true;
  const partials = tile.partials ?? devicePartials(device, cell);
  const most = device.limits.maxComputeInvocationsPerWorkgroup;
  if (tile.threads > most) throw new Error(`tile ${tileKey(tile)} has ${tile.threads} threads per workgroup; this device allows ${most}: choose a tile with wg${most} or fewer`);
  if (partials % tileSplit(tile) !== 0) {
    throw new Error(`tile ${tileKey(tile)} splits a unit over ${tileSplit(tile)} threads, but this device sums dot products in ${partials} partial${partials > 1 ? 's' : ''}; choose a tile without -s${tileSplit(tile)} (or set LWIN_PARTIALS=${GPU_PARTIALS})`);
  }
  if (tile.lanes === 'subgroup') {
    const size = checkedSubgroupSize(device);
    if (!lanesBySubgroup(size, tileSplit(tile))) {
      throw new Error(`tile ${tileKey(tile)} adds a unit's ${tileSplit(tile)} lanes by subgroup shuffles, but this device's subgroups ${size === undefined ? 'were not found to be runs of consecutive invocations' : `are ${size} invocations`}; choose the tile without -sg`);
    }
  }
  const subgroup = held === true && unroll === 1 && partials === 1 && tileSplit(tile) === 1 ? deviceSubgroup(device, tile) : undefined;
  return { ...tile, unroll, held, dims: held ? dims : undefined, partials, ...(subgroup !== undefined && { subgroup }) };
}

/**
 * Whether a split unit's `split` lanes may add by subgroup shuffles (Tile.lanes) on a device whose subgroups were
 * checked to be runs of `subgroup` consecutive invocations (src/gpu/device.ts checkedSubgroupSize): a unit's lanes,
 * consecutive and starting at a multiple of `split`, then lie in one subgroup.
 */
export function lanesBySubgroup(subgroup: number | undefined, split: number): boolean {
  return subgroup !== undefined && subgroup % split === 0;
}

/**
 * The subgroup size a held CPU-form tile on `device` loads its dot products' values with (Tile.subgroup), or
 * undefined: the device's (deviceSubgroupSize; lavapipe: 8, its vector width) when it divides the tile's threads
 * per group, so that a subgroup's lanes are in one group. Measured on lavapipe: a 64-long dot product against a
 * workgroup vector, 3.5× faster.
 */
export function deviceSubgroup(device: GPUDevice, tile: Tile): number | undefined {
  const size = deviceSubgroupSize(device);
  return size !== undefined && tile.hp % size === 0 ? size : undefined;
}

/**
 * The subgroup size S kernels on `device` may load by lanes and broadcast with (held tiles, and the weight
 * gradients' columns lanes: shaders/grad.ts), or undefined: a CPU adapter whose subgroups acquireDevice checked to
 * be runs of S consecutive invocations (src/gpu/device.ts checkedSubgroupSize), unless LWIN_SUBGROUPS=off.
 */
export function deviceSubgroupSize(device: GPUDevice): number | undefined {
  const setting = envSetting('LWIN_SUBGROUPS');
  if (setting !== undefined && setting !== 'on' && setting !== 'off') throw new Error(`LWIN_SUBGROUPS=${setting}: use 'on' (CPU adapters with subgroups, the default) or 'off'`);
  if (setting === 'off' || !onSoftwareAdapter(device)) return undefined;
  return checkedSubgroupSize(device);
}

/** The default tile (defaultTile) as the kernels on `device` run it for H units and D inputs. */
export function defaultTileOn(device: GPUDevice, cell: CellKind, hidden: number, input?: number): Tile {
  return settled(device, cell, defaultTile(hidden), input === undefined ? undefined : { H: hidden, D: input });
}

/**
 * The tile of the diagnostic stage's tangent and ρ kernels: LWIN_DIAG_TILE (a key as LWIN_TILE's, unsplit: those
 * kernels run one thread per unit; for A/B benches of held weights, unroll and units per thread), else the default
 * tile, settled for the device.
 */
export function diagnosticTile(device: GPUDevice, cell: CellKind, hidden: number, input?: number): Tile {
  const forced = envSetting('LWIN_DIAG_TILE');
  return forced ? settled(device, cell, parseTile(forced, hidden), input === undefined ? undefined : { H: hidden, D: input }) : defaultTileOn(device, cell, hidden, input);
}

/**
 * Every tile worth trying for H units: R ∈ {1, 2, 4} sequences per group, 64–256 threads (512 split), 1 (then SPLITS)
 * threads per unit, a split unit's lanes adding through workgroup memory or by subgroup shuffles (`-sg`).
 */
export function candidateTiles(hidden: number): Tile[] {
  const tiles: Tile[] = [];
  // One group per workgroup (threads = hp) as well: see tilePrelude's `single`.
  for (const split of [1, ...SPLITS]) {
    // A split tile may take 512 threads where the adapter allows them (settled() checks), and add its lanes either way.
    for (const lanes of split > 1 ? [undefined, 'subgroup' as const] : [undefined]) {
      for (const threads of [...new Set([Math.min(THREADS, Math.max(32, pow2ceil(hidden)) * split), 64, 128, 256, ...(split > 1 ? [512] : [])])]) {
        for (const R of [1, 2, 4]) {
          const tile = makeTile(hidden, R, threads, split, lanes);
          if (tile && !tiles.some((t) => tileKey(t) === tileKey(tile))) tiles.push(tile);
        }
      }
    }
  }
  return tiles;
}

/**
 * A tile named by its key (`r2k1hp64wg128`) or by its sequences per group and threads alone (`r4`, `r2wg128`: the
 * units follow from H), checked to fit H; `-s<n>` after either splits each unit over n threads, `-rows` after that
 * reads weights by rows, `-u<n>` after that unrolls the dot products n steps per pass instead of DOT_UNROLL, and
 * `-p` last holds the weights (held-weights.ts), `-pf` in the forward-like kernels only.
 */
export function parseTile(key: string, hidden: number): Tile {
  const held: Tile['held'] = /-pf$/.test(key.trim()) ? 'forward' : /-p$/.test(key.trim()) ? true : undefined;
  const rest = key.trim().replace(/-pf?$/, '');
  const unrolled = /-u(\d+)$/.exec(rest);
  const unroll = unrolled ? Number(unrolled[1]) : undefined;
  if (unroll !== undefined && !UNROLLS.includes(unroll)) throw new Error(`tile "${key}": -u${unroll} is no unroll lwin has; use one of ${UNROLLS.map((n) => `-u${n}`).join(', ')}`);
  const base = rest.replace(/-u\d+$/, '');
  const rows = base.endsWith('-rows');
  const named = base.replace(/-rows$/, '');
  const splitBy = /-s(\d+)(-sg)?$/.exec(named);
  const split = splitBy ? Number(splitBy[1]) : 1;
  const lanes = splitBy?.[2] ? '-sg' : '';
  if (split !== 1 && !SPLITS.includes(split)) throw new Error(`tile "${key}": -s${split} is no split lwin has; use one of ${SPLITS.map((n) => `-s${n}`).join(', ')}`);
  const name = named.replace(/-s\d+(-sg)?$/, '');
  const short = /^r(\d)(?:wg(\d+))?$/.exec(name);
  const found = short
    ? makeTile(hidden, Number(short[1]), short[2] ? Number(short[2]) : THREADS, split, lanes ? 'subgroup' : undefined)
    : candidateTiles(hidden).find((t) => tileKey(t) === (split > 1 ? `${name}-s${split}${lanes}` : name));
  const layout = found && rows ? byRows(found) : found;
  const tile = layout && { ...layout, ...(unroll !== undefined && { unroll }), ...(held && { held }) };
  if (!tile) {
    throw new Error(`tile "${key}" does not fit H=${hidden}; choose one of ${candidateTiles(hidden).map(tileKey).join(', ')}`);
  }
  return tile;
}

/** `tile` reading weights by rows (tile.ts): a key with `-rows`. */
export function byRows(tile: Tile): Tile {
  return { ...tile, weights: 'rows' };
}

/** Tiles chosen for a device (by the autotune or a caller), per cell, LayerNorm option and H. */
const chosen = new WeakMap<GPUDevice, Map<string, Tile>>();

function choiceKey(cell: CellKind, layernorm: boolean, hidden: number): string {
  return `${cell},${layernorm ? 'ln' : 'noln'},H${hidden}`;
}

/** Makes `tile` the one the training kernels use on `device` for this cell, LayerNorm option and H. */
export function chooseTile(device: GPUDevice, cell: CellKind, layernorm: boolean, hidden: number, tile: Tile): void {
  let map = chosen.get(device);
  if (!map) chosen.set(device, (map = new Map()));
  map.set(choiceKey(cell, layernorm, hidden), tile);
}

/** The tile LWIN_TILE names for H (benchmarks, tests), if it is set. */
export function forcedTile(hidden: number): Tile | undefined {
  const forced = envSetting('LWIN_TILE');
  return forced ? parseTile(forced, hidden) : undefined;
}

/**
 * The tile of the training kernels on `device`: LWIN_TILE, else the chosen one, else the default; settled for a
 * layer of `hidden` units and `input` inputs (see settled).
 */
export function tileFor(device: GPUDevice, cell: CellKind, layernorm: boolean, hidden: number, input?: number): Tile {
  const tile = forcedTile(hidden) ?? chosen.get(device)?.get(choiceKey(cell, layernorm, hidden)) ?? defaultTile(hidden);
  return settled(device, cell, tile, input === undefined ? undefined : { H: hidden, D: input });
}
