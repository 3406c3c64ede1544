// Interleaved A/B of kernel variants in one process: `npm run bench -- ab --variants 'A;B;…'`, each variant a set of
// benchmark switches (environment assignments such as `LWIN_PARTIALS=1 LWIN_REPLAY=off`; an empty one is the
// defaults). On a lent GPU the card's speed drifts between rows run one after another (bench/RESULTS.md: the same
// kernel 2–4× slower for a while), so variants measured in separate benches are not comparable; here each round
// runs one training step (forward + BPTT + weight gradients) of every variant, in an order that rotates from round
// to round, and the table gives each variant's median GPU time over the rounds and its ratio to the first variant.
import type { GpuContext } from '../src/gpu/index.ts';
import type { ProfileReport } from '../src/gpu/profiler.ts';
import { buildLayout, cellLayerNorm, type CellKind } from '../src/model/index.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { describeTimings, ensureTile } from '../src/cells/autotune.ts';
import { tileFor } from '../src/cells/tiles.ts';
import { tileKey } from '../shaders/cells/tile.ts';
import { stepBuffers, type CellBenchSize } from './cells.ts';

/** The kernels a training step's GPU time is split into in the table (the rest is reductions, residuals, clears). */
const PARTS = { forward: 'forward_', backward: 'backward_', weights: 'weight_grad' } as const;
type Part = keyof typeof PARTS;

export interface AbVariant {
  /** The environment assignments, as given ('' for the defaults). */
  env: string;
  /** The tile the variant's kernels ran (autotuned or cached under its switches, or forced by LWIN_TILE). */
  tile: string;
  /** GPU ms of each measured round's step, in round order. */
  gpuMs: number[];
  /** GPU ms of each round by kernel group. */
  partsMs: Record<Part, number[]>;
}

export interface AbResult {
  cell: CellKind;
  size: CellBenchSize;
  rounds: number;
  variants: AbVariant[];
}

/** `A=1 B=x` as [name, value] pairs; refuses anything but NAME=VALUE words, naming the variant. */
export function parseVariant(text: string): [string, string][] {
  return text.trim().split(/\s+/).filter(Boolean).map((word) => {
    const match = /^([A-Z][A-Z0-9_]*)=(\S*)$/.exec(word);
    if (!match) throw new Error(`--variants: "${word}" in "${text}" is no NAME=VALUE assignment (e.g. LWIN_PARTIALS=1); separate variants with ';'`);
    return [match[1]!, match[2]!];
  });
}

/** Runs `body` with the variant's assignments in process.env, then puts back what was there. */
async function withEnv<T>(pairs: [string, string][], body: () => Promise<T>): Promise<T> {
  const saved = pairs.map(([name]) => [name, process.env[name]] as const);
  for (const [name, value] of pairs) process.env[name] = value;
  try {
    return await body();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const partMs = (report: ProfileReport, prefix: string) => report.kernels.filter((k) => k.name.startsWith(prefix)).reduce((s, k) => s + k.totalMs, 0);

async function abCell(ctx: GpuContext, cell: CellKind, size: CellBenchSize, variants: readonly string[], rounds: number): Promise<AbResult> {
  const { batch: B, steps: T, hidden: H, input: D } = size;
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
  const b = stepBuffers(ctx, layout, B, T, 'ab');
  const request = { cell, layernorm: layout.config.layernorm, hidden: H, input: D, batch: B };
  const results: AbVariant[] = variants.map((env) => ({ env, tile: '', gpuMs: [], partsMs: { forward: [], backward: [], weights: [] } }));
  const profiler = ctx.profiler!;
  // Round 0 compiles (and autotunes each variant's tile on first use); it is not counted.
  for (let round = 0; round <= rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + round) % variants.length;
      const result = results[v]!;
      await withEnv(parseVariant(variants[v]!), async () => {
        const choice = await ensureTile(ctx, request); // the variant's own tile: its switches may key another choice
        if (choice?.source === 'tuned') console.error(`ab ${cell} ${variants[v] || '(defaults)'}: autotuned ${choice.tile} (${describeTimings(choice)})`);
        result.tile = tileKey(tileFor(ctx.device, cell, layout.config.layernorm, H, D));
        const step = ctx.step(`ab ${cell}`);
        recordBatchGradient(step, { layout, ...b, batch: B, steps: T });
        profiler.reset();
        await step.submit();
      });
      if (round === 0) continue;
      const report = profiler.report();
      result.gpuMs.push(report.totalMs);
      for (const part of Object.keys(PARTS) as Part[]) result.partsMs[part].push(partMs(report, PARTS[part]));
    }
    // Variants' scratch differs (kept values or not): on a GPU, one step's at a time. A CPU adapter keeps it: there
    // fresh buffers are fresh host pages, touched first inside the next step's kernels, which made every round's
    // first variant ~1.5× slower on lavapipe (at the bench size the scratch is small).
    if (!ctx.softwareAdapter) ctx.releaseIdle();
  }
  for (const buf of Object.values(b)) buf.destroy();
  return { cell, size, rounds, variants: results };
}

/** Every cell at every size; `onResult` sees each result as it comes (the kit saves partial results). */
export async function benchAb(
  ctx: GpuContext, sizes: readonly CellBenchSize[], cells: readonly CellKind[], variants: readonly string[], rounds: number,
  onResult: (result: AbResult) => void | Promise<void> = () => {},
): Promise<AbResult[]> {
  for (const v of variants) parseVariant(v); // refuse a bad variant before any work
  const results: AbResult[] = [];
  for (const size of sizes) {
    for (const cell of cells) {
      const result = await abCell(ctx, cell, size, variants, rounds);
      console.log(formatAb([result]).join('\n'));
      results.push(result);
      await onResult(result);
    }
  }
  return results;
}

/** Markdown: per cell and size, each variant's tile, median GPU ms per step (and its parts), and its ratio to the first. */
export function formatAb(results: readonly AbResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const s = r.size;
    lines.push(`### ${r.cell}, B=${s.batch} T=${s.steps} H=${s.hidden} D=${s.input}: medians of ${r.rounds} interleaved rounds, GPU ms per step (forward + BPTT)`, '');
    lines.push('| variant | tile | GPU ms | forward | backward | weight gradients | range | / first |', '|---|---|---|---|---|---|---|---|');
    const first = median(r.variants[0]!.gpuMs);
    for (const v of r.variants) {
      const m = median(v.gpuMs);
      lines.push(
        `| ${v.env || '(defaults)'} | ${v.tile} | ${m.toFixed(2)} | ${median(v.partsMs.forward).toFixed(2)} | ${median(v.partsMs.backward).toFixed(2)} | ` +
          `${median(v.partsMs.weights).toFixed(2)} | ${Math.min(...v.gpuMs).toFixed(2)}–${Math.max(...v.gpuMs).toFixed(2)} | ${(m / first).toFixed(3)} |`,
      );
    }
    lines.push('');
  }
  return lines;
}
