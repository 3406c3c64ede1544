// The GPU kit's last step (bench/gpu/run.sh): gathers what each step left in the parts folder into one JSON and one
// Markdown file, with the projection of the paper's whole study (SPEC §10: five cells, 750 epochs, diagnostics,
// exact transport) on this adapter.
//   node summarize.mjs PARTS OUTDIR --size full|tiny --budget S --elapsed S
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import writeFileAtomic from 'write-file-atomic';
import type { CellBenchResult } from '../cells.ts';
import { formatDuration } from '../cells.ts';
import { formatAb, type AbResult } from '../ab.ts';
import { formatOverlap, type OverlapResult } from '../overlap.ts';
import type { DiagnosticsBenchResult } from '../diagnostics.ts';
import type { KernelBenchResult } from '../kernels.ts';
import { formatHost, type HostBenchResult } from '../host.ts';
import type { PeerBenchResult } from '../peers.ts';
import type { DoctorReport } from '../../src/cli/doctor.ts';
import type { KernelTiming } from '../../src/gpu/profiler.ts';
import { formatBytes } from '../../src/gpu/memory.ts';
import { parseProgressLines, progressPhases, projectPaperStudy, type StudyProjection } from './projection.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { size: { type: 'string', default: 'full' }, budget: { type: 'string' }, elapsed: { type: 'string' } },
});
const [partsDir, outDir] = positionals as [string, string];
if (!partsDir || !outDir) throw new Error('usage: summarize.mjs PARTS OUTDIR [--size full|tiny] [--budget S] [--elapsed S]');

function read<T>(name: string): T | undefined {
  const file = join(partsDir, name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    console.warn(`summarize: ${file} is not valid JSON (${(error as Error).message}); left out`);
    return undefined;
  }
}
const text = (name: string) => (existsSync(join(partsDir, name)) ? readFileSync(join(partsDir, name), 'utf8') : undefined);

// run.sh's before-variants (LWIN_KIT_BEFORE, ';'-separated): cells-paper-before, cells-paper-before-2, …
const beforeNames = ['cells-paper-before', ...[2, 3, 4].map((i) => `cells-paper-before-${i}`)].filter((n) => existsSync(join(partsDir, `${n}.status`)));
// run.sh's bench-size before/after (LWIN_KIT_BEFORE_BENCH), when it ran
const benchBefore = ['cells-bench-before', 'peers-before'].filter((n) => existsSync(join(partsDir, `${n}.status`)));
// run.sh's paper run with LWIN_KIT_PAPER_BEFORE, when it ran
// (';'-separated variants: paper-run-before, paper-run-before-2, …)
const paperBefore = ['paper-run-before', ...[2, 3, 4].map((i) => `paper-run-before-${i}`)].filter((n) => existsSync(join(partsDir, `${n}.status`)));
// run.sh's interleaved A/B (LWIN_KIT_AB), when it ran
const abStep = ['ab'].filter((n) => existsSync(join(partsDir, `${n}.status`)));
const STEPS = ['doctor', 'kernels', 'host', 'torch', 'warm-up', 'cells-bench', ...benchBefore.slice(0, 1), 'cells-paper', ...beforeNames, ...abStep, 'overlap', 'cells-stack', 'diagnostics-paper', 'peers', ...benchBefore.slice(1), 'peers-paper', 'paper-run', ...paperBefore];
function stepStatus(name: string): { status: string; seconds?: number } {
  const raw = text(`${name}.status`)?.trim();
  if (!raw) return { status: 'not run' };
  if (raw === 'skipped') return { status: 'skipped (time budget spent)' };
  if (raw === 'skipped-by-request') return { status: 'skipped (LWIN_KIT_SKIP)' };
  const [rc, ms] = raw.split(' ').map(Number) as [number, number];
  const status = rc === 0 ? 'ok' : rc === 124 || rc === 137 ? 'stopped at its time limit' : `failed (exit ${rc})`;
  return { status, seconds: ms / 1000 };
}

interface CellsFile { cells?: CellBenchResult[] }
interface DiagnosticsFile { diagnostics?: DiagnosticsBenchResult[] }
interface KernelsFile { kernels?: KernelBenchResult[] }
interface PeersFile { peers?: PeerBenchResult[] }
interface AbFile { ab?: AbResult[] }
interface TorchFile { skipped?: string; torch?: string; cudnn?: number; device?: string; results?: { cell: string; size: CellBenchResult['size']; msPerBatch: number; forwardMsPerBatch: number; sequenceStepsPerSecond: number; peakBytes: number }[] }
interface StudyFile { seconds?: number; cells?: { cell: string; timings: Record<string, number> }[] }

const doctor = read<DoctorReport>('doctor.json');
const kernels = read<KernelsFile>('kernels.json')?.kernels ?? [];
const host = read<{ host?: HostBenchResult[] }>('host.json')?.host ?? [];
const cellsBench = read<CellsFile>('cells-bench.json')?.cells ?? [];
const cellsPaper = read<CellsFile>('cells-paper.json')?.cells ?? [];
// The paper size again with the kernels' earlier choices forced back (run.sh's LWIN_KIT_BEFORE, each variant named in
// `<step>.txt`; the first also in `before.txt`, as earlier kits wrote it).
const befores = beforeNames.map((name, i) => ({
  label: (text(`${name}.txt`) ?? (i === 0 ? text('before.txt') : undefined))?.trim() || 'the earlier kernels',
  cells: read<CellsFile>(`${name}.json`)?.cells ?? [],
}));
const benchBeforeLabel = text('bench-before.txt')?.trim() || 'the earlier kernels';
const cellsBenchBefore = read<CellsFile>('cells-bench-before.json')?.cells ?? [];
const peersBefore = read<PeersFile>('peers-before.json')?.peers ?? [];
// PyTorch's layers as 2-layer stacks at the bench size (SPEC §13)
const cellsStack = read<CellsFile>('cells-stack.json')?.cells ?? [];
const ab = read<AbFile>('ab.json')?.ab ?? [];
const overlap = read<{ overlap?: OverlapResult[] }>('overlap.json')?.overlap ?? [];
const diagnostics = read<DiagnosticsFile>('diagnostics-paper.json')?.diagnostics ?? [];
const torch = read<TorchFile>('torch.json');
const peers = [...(read<PeersFile>('peers.json')?.peers ?? []), ...(read<PeersFile>('peers-paper.json')?.peers ?? [])];
const study = read<StudyFile>('paper-run-study.json');
const epochSeconds = parseProgressLines(text('paper-run.progress') ?? '');
const epochPhases = progressPhases(text('paper-run.progress') ?? '');
// Each paper run with LWIN_KIT_PAPER_BEFORE's variants: its environment, epochs and their phases.
const paperRunsBefore = paperBefore.map((name) => {
  const progress = text(`${name}.progress`) ?? '';
  return { label: text(`${name}.txt`)?.trim() ?? name, epochSeconds: parseProgressLines(progress), epochPhases: progressPhases(progress) };
});
// The kit's manifest sits beside the bundle; run from the repository (tsx), the parts folder may carry one instead.
const manifestFile = [join(import.meta.dirname, 'manifest.json'), join(partsDir, 'manifest.json')].find(existsSync);
const manifest = (manifestFile ? JSON.parse(readFileSync(manifestFile, 'utf8')) : { lwin: '?', commit: 'unknown (no manifest.json)' }) as Record<string, unknown>;
const projectionInputs = { cellsPaper, cellsBench, diagnostics, epochSeconds, calibrate: flags.size === 'full', ab };
const projection: StudyProjection = projectPaperStudy(projectionInputs);
// With each cell's fastest A/B variant where the A/B tried others: what making them the defaults would give.
const triedVariants = ab.some((r) => r.variants.length > 1);
const projectionFastest: StudyProjection | undefined = triedVariants ? projectPaperStudy({ ...projectionInputs, fastest: true }) : undefined;

/**
 * Training FLOPs per sequence-step, ≈ 3× the forward's 2·G·H·(H+D) (PERF.md); G gate blocks per cell. A stack's
 * layers above the first read D = H.
 */
const GATE_BLOCKS: Record<string, number> = { const: 1, shared: 1, diag: 2, gru: 3, lstm: 4, linear: 1, rnn: 1, rnn_relu: 1, torch_gru: 3, torch_lstm: 4 };
const inputWidths = (s: CellBenchResult['size']) => s.hidden + s.input + ((s.layers ?? 1) - 1) * 2 * s.hidden;
const trainingGflops = (r: CellBenchResult) => (3 * 2 * (GATE_BLOCKS[r.cell] ?? 1) * r.size.hidden * inputWidths(r.size) * r.sequenceStepsPerSecond) / 1e9;
const matmulGflops = Math.max(0, ...kernels.filter((k) => k.unit === 'GFLOP/s').map((k) => k.rate));

const summary = {
  kit: manifest,
  size: flags.size,
  budgetSeconds: Number(flags.budget),
  elapsedSeconds: Number(flags.elapsed),
  date: new Date().toISOString(),
  adapter: doctor?.adapter,
  nvidiaSmi: text('nvidia-smi.csv')?.trim(),
  doctor: doctor && { ok: doctor.ok, checks: doctor.checks, limits: doctor.limits, features: doctor.features },
  steps: Object.fromEntries(STEPS.map((s) => [s, stepStatus(s)])),
  kernels,
  cells: { bench: cellsBench, paper: cellsPaper, paperBefore: befores[0], paperBefores: befores, benchBefore: { label: benchBeforeLabel, cells: cellsBenchBefore }, stack: cellsStack },
  ab,
  overlap,
  diagnostics,
  paperRun: { epochSeconds, epochPhases, finished: Boolean(study), seconds: study?.seconds, timings: study?.cells?.[0]?.timings, before: paperRunsBefore[0], befores: paperRunsBefore },
  torch,
  peers,
  peersBefore: { label: benchBeforeLabel, peers: peersBefore },
  projection,
  projectionFastest,
};
await writeFileAtomic(join(outDir, 'gpu-kit.json'), `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`);

const f = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const duration = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : formatDuration(v));
/**
 * The card's state check: the mean µs of optim_update, a kernel no before/after of this kit changes and too small to
 * depend on the cell. On an H200 it took 7.5–8 µs in a settled state and ~21 µs during the first bench after the
 * machine started (every kernel then ran 2–3× slower): compare rows only where this agrees.
 */
const control = (kernels: KernelTiming[]) => kernels.find((k) => k.name === 'optim_update')?.meanUs;
const top = (kernels: KernelTiming[], n = 3) => [...kernels].sort((a, b) => b.totalMs - a.totalMs).slice(0, n).map((k) => `${k.name} ${(100 * k.share).toFixed(0)}%`).join(', ');
const lines: string[] = [];
const table = (head: string[], rows: (string | number)[][]) => {
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), '');
};
const adapter = doctor?.adapter;
lines.push(`# lwin on ${adapter?.name ?? 'an unknown adapter'}`, '');
lines.push(
  `- adapter: ${adapter ? `${adapter.name} (vendor ${adapter.vendor || '?'}, architecture ${adapter.architecture || '?'}; ${adapter.runtimeVersion})` : 'lwin doctor did not finish'}`,
  `- nvidia-smi: ${summary.nvidiaSmi?.split('\n').slice(1).join('; ') || '(not available)'}`,
  `- kit: lwin ${manifest.lwin}, commit ${manifest.commit}, Node ${manifest.node}, webgpu ${manifest.webgpu}; size ${flags.size}`,
  `- date ${summary.date}; ${summary.elapsedSeconds} s of a ${summary.budgetSeconds} s budget`,
  `- kernels against float64 (lwin doctor): ${doctor ? `${doctor.checks.filter((c) => c.ok).length}/${doctor.checks.length} agree` : '–'}`,
  '',
);
table(['step', 'status', 'seconds'], STEPS.map((s) => [s, summary.steps[s]!.status, f(summary.steps[s]!.seconds)]));
lines.push('## Kernels', '');
table(['kernel', 'shape', 'GPU ms per call', 'rate'], kernels.map((k) => [k.kernel, k.shape, f(k.gpuMsPerCall, 3), `${f(k.rate, 2)} ${k.unit}`]));
if (host.length) lines.push(`## ${formatHost(host, adapter?.name ?? 'this adapter')}`, '');
for (const [label, rows] of [['bench size', cellsBench], [`bench size, before (${benchBeforeLabel})`, cellsBenchBefore], ['paper size', cellsPaper], ...befores.map((b) => [`paper size, before (${b.label})`, b.cells] as const), ["bench size, PyTorch's layers stacked (L=2)", cellsStack]] as const) {
  if (!rows.length) continue;
  const s = rows[0]!.size;
  lines.push(`## Training step (forward + BPTT + AdamW), ${label}: B=${s.batch} T=${s.steps} H=${s.hidden} D=${s.input}`, '');
  table(
    ['cell', 'sequence-steps/s', 'ms per batch', 'GPU ms', 'overhead', 'host ms (record + queue)', '≈ GFLOP/s', 'of matmul', 'peak memory', 'tile', 'control µs', 'top kernels'],
    rows.map((r) => [
      r.cell, `${f(r.sequenceStepsPerSecond / 1e3)} k`, f(r.wallMsPerBatch), f(r.gpuMsPerBatch), `${f(100 * r.overhead, 0)}%`,
      r.hostMsPerBatch ? `${f(r.hostMsPerBatch.record)} + ${f(r.hostMsPerBatch.queue)}` : '–',
      f(trainingGflops(r), 2), (r.matmulGflopsAround ?? matmulGflops) ? `${f((100 * trainingGflops(r)) / (r.matmulGflopsAround ?? matmulGflops), 1)}%` : '–', formatBytes(r.peakBytes), r.tile ?? '–', f(control(r.profile.kernels), 1), top(r.profile.kernels),
    ]),
  );
}
if (ab.length) {
  lines.push(`## Interleaved A/B at the paper size (\`bench ab\`, variants \`${text('ab.txt')?.trim()}\`)`, '');
  lines.push(...formatAb(ab));
}
if (overlap.length) {
  lines.push('## Two cells side by side (`bench overlap`: their batches apart, one after the other in one submit, interleaved op by op)', '');
  for (const r of overlap) lines.push(...formatOverlap(r), '');
}
if (torch?.results?.length) {
  lines.push(`## PyTorch on the same GPU: torch ${torch.torch}, cuDNN ${torch.cudnn}, ${torch.device}`, '');
  const lwin = [...cellsBench, ...cellsPaper];
  table(
    ['layer', 'size B×T×H×D', 'sequence-steps/s', 'ms per training step', 'forward ms', 'lwin (same cell, size)', 'lwin / torch'],
    torch.results.map((t) => {
      const mine = lwin.find((r) => r.cell === t.cell && r.size.batch === t.size.batch && r.size.steps === t.size.steps && r.size.hidden === t.size.hidden);
      const s = t.size;
      return [
        `torch.nn.${t.cell.toUpperCase()}`, `${s.batch}×${s.steps}×${s.hidden}×${s.input}`, `${f(t.sequenceStepsPerSecond / 1e3)} k`, f(t.msPerBatch, 2), f(t.forwardMsPerBatch, 2),
        mine ? `${f(mine.sequenceStepsPerSecond / 1e3)} k (with LayerNorm)` : '–', mine ? f(mine.sequenceStepsPerSecond / t.sequenceStepsPerSecond, 3) : '–',
      ];
    }),
  );
} else lines.push(`PyTorch anchor: ${torch?.skipped ?? 'not run'}`, '');
for (const [label, rows] of [['', peers], [`, before (${benchBeforeLabel})`, peersBefore]] as const) {
  if (!rows.length) {
    if (!label) lines.push(`TF.js peers: ${summary.steps.peers!.status}`, '');
    continue;
  }
  lines.push(`## TF.js on the same adapter${label}: tfjs-layers 4.22 on tfjs-backend-webgpu, lwin's device, no LayerNorm, Adam, interleaved medians`, '');
  table(
    ['layer', 'size B×T×H×D', 'lwin ms per batch', 'TF.js ms per batch', 'lwin sequence-steps/s', 'TF.js sequence-steps/s', 'lwin / TF.js'],
    rows.map((p) => [
      p.cell.toUpperCase(), `${p.size.batch}×${p.size.steps}×${p.size.hidden}×${p.size.input}`, f(p.lwinMsPerBatch), f(p.tfjsMsPerBatch),
      `${f(p.lwinSequenceStepsPerSecond / 1e3)} k`, `${f(p.tfjsSequenceStepsPerSecond / 1e3)} k`, `${f(p.ratio, 2)}×`,
    ]),
  );
}
if (diagnostics.length) {
  const s = diagnostics[0]!.size;
  lines.push(`## Diagnostic stage: N=${s.sequences} T=${s.steps} H=${s.hidden} D=${s.input}, ${s.lags.num} lags ${s.lags.min}…${s.lags.max}`, '');
  table(
    ['cell', 'sequence-lags/s', 'seconds', 'batch', 'peak memory', 'window GPU ms', 'recurrent GPU ms', 'transport s/pair (host)', 'projected paper stage', 'top kernels'],
    diagnostics.map((d) => [d.cell, f(d.sequenceLagsPerSecond, 0), f(d.seconds, 2), d.batch, formatBytes(d.peakBytes), f(d.windowMs), f(d.recurrentMs), f(d.transportSecondsPerPair, 2), duration(d.projectedPaperDiagnosticsSeconds), top(d.profile.kernels)]),
  );
}
lines.push('## `lwin run --preset paper --cells gru` (run.sh: LWIN_KIT_PAPER_EPOCHS epochs, default 2; LWIN_KIT_PAPER_ARGS)', '');
lines.push(
  `- epochs measured: ${epochSeconds.length ? epochSeconds.map((s, i) => `epoch ${i + 1} ${f(s)} s${epochPhases[i] ? ` (${epochPhases[i]})` : ''}`).join(', ') : 'none (the run did not finish an epoch in its time)'}`,
  `- ${study ? `finished in ${f(study.seconds)} s (${Object.entries(summary.paperRun.timings ?? {}).map(([k, v]) => `${k} ${f(v)} s`).join(', ')})` : 'stopped before the end (time budget); the projection uses the epochs above'}`,
  ...paperRunsBefore.map((r) => `- with \`${r.label}\`: ${r.epochSeconds.length ? r.epochSeconds.map((s, i) => `epoch ${i + 1} ${f(s)} s${r.epochPhases[i] ? ` (${r.epochPhases[i]})` : ''}`).join(', ') : 'no epoch finished in its time'}`),
  '',
);
lines.push('## Projection: the paper study (five cells × 750 epochs, diagnostics on 8000 sequences, 64 transport pairs)', '');
table(
  ['cell', 'training epoch', '750 epochs', 'diagnostics', 'total'],
  projection.cells.map((c) => [c.cell, `${f(c.epochSeconds, 2)} s`, duration(c.trainingSeconds), duration(c.diagnosticsSeconds), c.complete ? duration(c.totalSeconds) : `≥ ${duration(c.totalSeconds)} (incomplete)`]),
);
const complete = projection.cells.every((c) => c.complete);
lines.push(
  `**Whole study: ${complete ? '' : 'at least '}${duration(projection.totalSeconds)}** (${f(projection.totalSeconds / 900, 1)}× the 15-minute goal). ${projection.note}`,
  '',
);
if (projectionFastest) {
  lines.push(
    `With each cell's fastest A/B variant instead of its defaults: **${duration(projectionFastest.totalSeconds)}** (${f(projectionFastest.totalSeconds / 900, 1)}× the goal; ${projectionFastest.cells.map((c) => `${c.cell} ${f(c.epochSeconds, 2)} s an epoch`).join(', ')}). ${projectionFastest.note}`,
    '',
  );
}
await writeFileAtomic(join(outDir, 'gpu-kit.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
