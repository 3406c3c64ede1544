// `npm run bench [-- kernels|cells|host|diagnostics|stats|peers[,…]] [options]`: throughput, per-kernel GPU time and peak memory
// on the adapter at hand, printed with its name. Set LWIN_BENCH_PAPER=1 to include the paper's size on a software adapter.
// `peers` (lwin against TF.js on the same adapter, bench/peers.ts) runs only when named: it loads TF.js and takes
// minutes on a software adapter. `ab` (bench/ab.ts) too: kernel variants (--variants) timed interleaved; and `overlap`
// (bench/overlap.ts): two cells' batches (--cells, default gru,lstm) alone and submitted together.
// Options (the GPU kit uses them; see bench/gpu/run.sh):
//   --json FILE               also write every result, with the adapter, to FILE (rewritten after each result,
//                             so a run stopped by a time limit keeps what it measured)
//   --cells a,b               only these cells (peers: gru and lstm only)
//   --cell-size BxTxHxD       cells and peers bench sizes (repeatable; default 64x256x64x16, plus the paper's on a GPU)
//   --layers L                cells bench: PyTorch's cells as stacks of L layers (SPEC §13; lwin's own cells stay single)
//   --diag-size NxTxHxD       diagnostics bench size (default 64x256x64x16)
//   --diag-lags MIN:MAX:NUM   its lag grid (default 4:128:32)
//   --transport-pairs N       exact-transport pairs timed on the host (default 2)
//   --kernel-scale S          shrink the kernel bench sizes by S (default 1)
//   --variants 'A;B'          ab: the variants, ';'-separated, each benchmark switches like 'LWIN_PARTIALS=1 LWIN_REPLAY=off'
//                             ('' or a blank variant: the defaults)
//   --rounds N                ab and overlap: measured rounds (default 5)
import { parseArgs } from 'node:util';
import writeFileAtomic from 'write-file-atomic';
import { acquireDevice, GpuContext } from '../src/gpu/index.ts';
import { CELL_KINDS, isCellKind, type CellKind } from '../src/model/index.ts';
import { benchKernels, matmulCalibration, REPEATS } from './kernels.ts';
import { benchCells, PAPER_TRAINING, type CellBenchSize } from './cells.ts';
import { benchStats } from './stats.ts';
import { benchPeers, PEER_CELLS } from './peers.ts';
import { benchDiagnostics, DIAGNOSTICS_BENCH_SIZE, type DiagnosticsBenchSize } from './diagnostics.ts';
import { benchAb } from './ab.ts';
import { benchOverlap, formatOverlap, type OverlapResult } from './overlap.ts';
import { benchHost, formatHost } from './host.ts';
import { nodeTileCache } from '../src/io/node-storage.ts';

const USAGE = `usage: npm run bench [-- kernels|cells|host|diagnostics|stats|peers|ab|overlap[,…]] [--json FILE] [--cells a,b]
  [--cell-size BxTxHxD …] [--layers L] [--diag-size NxTxHxD] [--diag-lags MIN:MAX:NUM] [--transport-pairs N]
  [--kernel-scale S] [--variants 'A;B'] [--rounds N]   (each option is described at the top of bench/index.ts)`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'string' },
  cells: { type: 'string' },
  'cell-size': { type: 'string', multiple: true },
  'diag-size': { type: 'string' },
  'diag-lags': { type: 'string' },
  'transport-pairs': { type: 'string' },
  'kernel-scale': { type: 'string' },
  layers: { type: 'string' },
  variants: { type: 'string' },
  rounds: { type: 'string' },
} as const;

/** The flags, or the usage and exit 2 on one it does not know (instead of parseArgs' stack trace). */
function parseFlags() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS });
  } catch (error) {
    console.error(`bench: ${(error as Error).message.split('. ')[0]}.\n${USAGE}`);
    process.exit(2);
  }
}
const { values: flags, positionals } = parseFlags();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
// One part, or several joined by commas (`kernels,cells`: the matmul calibration and the cells in one run).
const parts = positionals[0]?.split(',').filter(Boolean);
const PARTS = ['kernels', 'cells', 'host', 'diagnostics', 'stats', 'peers', 'ab', 'overlap'];
const unknownPart = parts?.find((p) => !PARTS.includes(p));
if (unknownPart) throw new Error(`unknown bench part "${unknownPart}"; expected one or more of ${PARTS.join(', ')}, joined by commas`);
const wants = (part: string) => (parts ? parts.includes(part) : part !== 'peers' && part !== 'ab' && part !== 'overlap');

function dims(text: string, flag: string, count: number): number[] {
  const parts = text.split(/[x:]/).map(Number);
  if (parts.length !== count || !parts.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${flag} "${text}": expected ${count} positive integers separated by 'x' or ':'`);
  }
  return parts;
}
const cellSize = (text: string): CellBenchSize => {
  const [batch, steps, hidden, input] = dims(text, '--cell-size', 4) as [number, number, number, number];
  return { batch, steps, hidden, input };
};

function cellList(text: string): CellKind[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !isCellKind(n));
  if (unknown.length) throw new Error(`--cells: unknown cell "${unknown.join('", "')}"; expected some of ${CELL_KINDS.join(',')}`);
  return names as CellKind[];
}

/** --rounds of ab and overlap (default 5). */
function roundsFlag(): number {
  const rounds = flags.rounds === undefined ? 5 : Number(flags.rounds);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds ${flags.rounds}: give a whole number of rounds ≥ 1`);
  return rounds;
}

const cells = flags.cells ? cellList(flags.cells) : undefined;
const acquired = await acquireDevice();
const results: Record<string, unknown> = { adapter: acquired.adapter, repeats: REPEATS, startedAt: new Date().toISOString() };
const save = async (part: string, list: unknown[]) => {
  results[part] = list;
  if (flags.json) await writeFileAtomic(flags.json, `${JSON.stringify(results, null, 1)}\n`);
};
try {
  const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true, tileCache: nodeTileCache() });
  console.log(`lwin bench on ${acquired.adapter.name} (${acquired.adapter.runtimeVersion}), ${REPEATS} repeats, profile: ${ctx.profiler!.source}\n`);
  // lwin's best matmul rate in this run: what the cells bench gives the recurrent kernels' rates as a share of.
  let matmulGflops: number | undefined;
  let calibrate: (() => Promise<number>) | undefined;
  if (wants('kernels')) {
    const scale = Number(flags['kernel-scale'] ?? 1);
    const kernels = await benchKernels(ctx, scale);
    const rates = kernels.filter((k) => k.unit === 'GFLOP/s').map((k) => k.rate);
    if (rates.length > 0) matmulGflops = Math.max(...rates);
    // The matmul timed again beside each cell: an adapter's speed drifts within a run (a shared machine's load, a
    // GPU's clocks), and a share of a rate measured minutes earlier moves with it.
    calibrate = matmulCalibration(ctx, kernels, scale);
    await save('kernels', kernels);
  }
  const cellSizes = () => {
    const { batch, steps, hidden } = PAPER_TRAINING;
    const paper = `${batch}x${steps}x${hidden}x16`;
    const layers = flags.layers === undefined ? undefined : Number(flags.layers);
    if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1)) throw new Error(`--layers ${flags.layers}: give a whole number of layers ≥ 1`);
    const sizes = (flags['cell-size'] ?? ['64x256x64x16']).map((text) => ({ ...cellSize(text), ...(layers !== undefined && { layers }) }));
    if (!flags['cell-size']) {
      if (!acquired.adapter.isFallbackAdapter || process.env.LWIN_BENCH_PAPER === '1') sizes.push(cellSize(paper));
      else console.log(`(paper size ${paper} skipped on a software adapter; LWIN_BENCH_PAPER=1 runs it)\n`);
    }
    return sizes;
  };
  if (wants('cells')) {
    const done: unknown[] = [];
    await benchCells(ctx, cellSizes(), Math.max(1, Math.min(REPEATS, 2)), cells, (r) => save('cells', (done.push(r), done)), matmulGflops, calibrate);
  }
  if (wants('host')) {
    const host = await benchHost(ctx, cells ?? ['const', 'gru', 'lstm'], Math.max(3, REPEATS));
    console.log(`${formatHost(host, acquired.adapter.name)}\n`);
    await save('host', host);
  }
  if (wants('peers')) {
    const peerCells = PEER_CELLS.filter((c) => !cells || cells.includes(c));
    if (peerCells.length === 0) throw new Error(`--cells ${flags.cells}: the peers bench has TF.js counterparts only for ${PEER_CELLS.join(' and ')}; name one of them`);
    const repeats = Math.max(1, Math.min(REPEATS, 5)); // a shared machine's load moves single steps by up to 2×
    console.log(`lwin against TF.js 4.22 (tfjs-layers on tfjs-backend-webgpu) on this device, interleaved, median of ${repeats} after a warm-up:`);
    // Unprofiled: per-dispatch timestamp passes would slow lwin's step and not TF.js's.
    const plain = new GpuContext(acquired.device, { adapter: acquired.adapter, tileCache: nodeTileCache() });
    const done: unknown[] = [];
    await benchPeers(plain, cellSizes(), repeats, peerCells, (r) => save('peers', (done.push(r), done)));
    plain.destroy();
  }
  if (wants('ab')) {
    if (flags.variants === undefined) throw new Error(`bench ab: give the variants to compare, e.g. --variants 'LWIN_PARTIALS=1;LWIN_PARTIALS=8'`);
    const rounds = roundsFlag();
    const done: unknown[] = [];
    await benchAb(ctx, cellSizes(), cells ?? ['gru', 'lstm'], flags.variants.split(';'), rounds, (r) => save('ab', (done.push(r), done)));
  }
  if (wants('overlap')) {
    const pair = cells ?? ['gru', 'lstm'];
    if (pair.length !== 2) throw new Error(`bench overlap: --cells names two cells (got ${pair.length}), e.g. --cells gru,lstm`);
    const rounds = roundsFlag();
    // Unprofiled: a profiled step runs each dispatch in a pass of its own, which would keep the two apart.
    const plain = new GpuContext(acquired.device, { adapter: acquired.adapter, tileCache: nodeTileCache() });
    const done: OverlapResult[] = [];
    for (const size of cellSizes()) {
      const result = await benchOverlap(plain, pair as [CellKind, CellKind], size, rounds);
      console.log(`${formatOverlap(result).join('\n')}\n`);
      await save('overlap', (done.push(result), done));
    }
    plain.destroy();
  }
  if (wants('diagnostics')) {
    const size: DiagnosticsBenchSize = { ...DIAGNOSTICS_BENCH_SIZE };
    if (flags['diag-size']) [size.sequences, size.steps, size.hidden, size.input] = dims(flags['diag-size'], '--diag-size', 4) as [number, number, number, number];
    if (flags['diag-lags']) {
      const [min, max, num] = dims(flags['diag-lags'], '--diag-lags', 3) as [number, number, number];
      size.lags = { min, max, num };
    }
    if (flags['transport-pairs']) size.transportPairs = dims(flags['transport-pairs'], '--transport-pairs', 1)[0]!;
    const done: unknown[] = [];
    await benchDiagnostics(ctx, size, cells, (r) => save('diagnostics', (done.push(r), done)));
  }
  if (wants('stats')) benchStats();
} finally {
  acquired.release();
}
