// `lwin doctor`: what runtime and adapter lwin sees, what they offer, and whether the kernels compute correctly.
import type { Command } from 'commander';
import { acquireDevice, GpuContext, OPTIONAL_FEATURES, RELIED_LIMITS, type AcquiredDevice } from '../gpu/index.ts';
import { checkedSubgroupSize } from '../gpu/device.ts';
import { openGpu } from '../gpu/runtime.ts';
import { checkAllKernels, type FamilyCheck } from '../doctor/registry.ts';
import { describeComparison } from '../reference/compare.ts';
import { formatProfile, type ProfileReport } from '../gpu/profiler.ts';
import { addDeviceOptions, deviceOptionsFrom, type DeviceFlags } from './device-options.ts';
import { nodeTileCache } from '../io/node-storage.ts';
import { cachedChoices } from '../cells/autotune.ts';
import { defaultTile, defaultTileOn, deviceHolds, devicePartials, deviceUnroll } from '../cells/tiles.ts';
import { tileKey } from '../../shaders/cells/tile.ts';
import { gradChunks, gradKernel, type GradKernel } from '../../shaders/grad.ts';
import { RESIDENT_BYTES, keepsResident } from '../train/resident.ts';

interface DoctorFlags extends DeviceFlags {
  json?: boolean;
  listAdapters?: boolean;
}

export function registerDoctor(program: Command): void {
  const command = program
    .command('doctor')
    .description('print the runtime, adapter, features and limits, then check the kernels against float64')
    .option('--json', 'print one JSON object instead of text')
    .option('--list-adapters', 'list the adapters Dawn can see and exit');
  addDeviceOptions(command).action(async (flags: DoctorFlags) => {
    if (flags.listAdapters) {
      const entry = await openGpu(deviceOptionsFrom(flags));
      const adapters = await entry.listAdapters();
      console.log(adapters.length ? adapters.map((a) => `* ${a}`).join('\n') : 'no adapters visible');
      return;
    }
    const acquired = await acquireDevice(deviceOptionsFrom(flags));
    try {
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true });
      const families = await checkAllKernels(ctx, (family) => {
        if (!flags.json && process.stderr.isTTY) process.stderr.write(`checking ${family}…\r\x1b[K`);
      });
      const cache = nodeTileCache();
      const tiles = { cache: cache.path, choices: await cachedChoices(cache, acquired.adapter.name), unroll: deviceUnroll(ctx.device), holds: deviceHolds(ctx.device, { H: 128, D: 16 }), partials: devicePartials(ctx.device), subgroup: defaultTileOn(ctx.device, 'gru', 128, 16).subgroup ?? 0, laneShuffles: checkedSubgroupSize(ctx.device) ?? 0 };
      const training = {
        weightGradients: gradKernel(ctx.softwareAdapter), gradChunks: gradChunks(ctx.softwareAdapter),
        residentBytes: keepsResident(ctx, RESIDENT_BYTES) ? RESIDENT_BYTES : 0,
      };
      const report = doctorReport(acquired, families, ctx.profiler!.report(), tiles, training);
      console.log(flags.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      if (!report.ok) process.exitCode = 1;
    } finally {
      acquired.release();
    }
  });
}

export interface DoctorReport {
  ok: boolean;
  adapter: AcquiredDevice['adapter'];
  features: { name: string; enabled: boolean }[];
  limits: Record<string, number>;
  /** Every kernel family of the registry with the float64 twin it was checked against. */
  families: { family: string; twin: string; ok: boolean }[];
  checks: { family: string; kernel: string; shape: string; ok: boolean; detail: string }[];
  profile: ProfileReport;
  /** The recurrent kernels' autotuned tiles on this adapter (src/cells/autotune.ts), per cell, LayerNorm, H and batch. */
  /** Cached tile choices, and the dot products' unroll on this device (steps per loop pass; 1 on CPU adapters). */
  tiles: { cache: string; choices: Record<string, string>; unroll: number;
    /** Whether tiles hold their weights per thread by default (at H = 128, D = 16; shaders/cells/held-weights.ts). */
    holds: boolean;
    /** Partial sums per dot product on this device (1 on CPU adapters). */
    partials: number;
    /** Values a held tile's dot products load per subgroup pass, one per lane (0: plain loads; src/cells/tiles.ts deviceSubgroup). */
    subgroup: number;
    /** The subgroup size whose runs of consecutive invocations let a split tile's lanes add by shuffles (-sg; 0: none). */
    laneShuffles: number };
  /** The training step's other choices on this device: the weight gradients' kernel and chunks, and up to what size
   * the training set is kept on the device (0: batches gathered on the host). */
  training: { weightGradients: GradKernel; gradChunks: number; residentBytes: number };
}

/** Each check once, with the first family that ran it. */
function firstFamilies(families: FamilyCheck[]): [FamilyCheck['checks'][number], string][] {
  const seen = new Map<FamilyCheck['checks'][number], string>();
  for (const f of families) for (const c of f.checks) if (!seen.has(c)) seen.set(c, f.family);
  return [...seen.entries()];
}

function doctorReport(acquired: AcquiredDevice, families: FamilyCheck[], profile: ProfileReport, tiles: DoctorReport['tiles'], training: DoctorReport['training']): DoctorReport {
  const { device } = acquired;
  const limits: Record<string, number> = {};
  for (const name of RELIED_LIMITS) limits[name] = device.limits[name];
  return {
    ok: families.every((f) => f.checks.every((c) => c.comparison.ok)),
    adapter: acquired.adapter,
    features: [...OPTIONAL_FEATURES, 'core-features-and-limits' as GPUFeatureName].map((name) => ({ name, enabled: device.features.has(name) })),
    limits,
    families: families.map((f) => ({ family: f.family, twin: f.twin, ok: f.checks.every((c) => c.comparison.ok) })),
    // A check that covers several families is listed once, under the first.
    checks: firstFamilies(families).map(([c, family]) => ({
      family, kernel: c.kernel, shape: c.shape, ok: c.comparison.ok, detail: describeComparison(c.kernel, c.comparison),
    })),
    profile,
    tiles,
    training,
  };
}

function formatDoctor(r: DoctorReport): string {
  const a = r.adapter;
  const mib = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(0)} MiB` : String(n));
  const lines = [
    `runtime      ${a.runtimeVersion}`,
    `adapter      ${a.description}`,
    `vendor       ${a.vendor || '?'}   architecture ${a.architecture || '?'}   device ${a.device || '?'}`,
    `fallback     ${a.isFallbackAdapter ? 'yes (software or fallback adapter: fine for tests, slow for studies)' : 'no'}`,
    `features     ${r.features.map((f) => `${f.name} ${f.enabled ? 'yes' : 'no'}`).join(', ')}`,
    'limits',
    ...Object.entries(r.limits).map(([k, v]) => `  ${k.padEnd(36)} ${k.endsWith('Size') ? mib(v) : v}`),
    `kernel families against float64 (${r.families.length})`,
    ...r.families.map((f) => `  ${f.ok ? 'ok  ' : 'FAIL'} ${f.family.padEnd(19)} vs ${f.twin}`),
    `recurrent tiles (autotuned on first training of a size; cache ${r.tiles.cache})`,
    ...(Object.keys(r.tiles.choices).length
      ? Object.entries(r.tiles.choices).map(([key, tile]) => `  ${key.padEnd(24)} ${tile}`)
      : [`  none tuned on this adapter yet: training uses the default tile (${tileKey(defaultTile(128))} at H=128) until it tunes one`]),
    `  dot products unrolled ${r.tiles.unroll} step${r.tiles.unroll === 1 ? '' : 's'} per loop pass${r.tiles.unroll === 1 ? ' (a CPU adapter: rolled loops compile faster and run as fast)' : ''}; LWIN_UNROLL forces one`,
    `  dot products summed in ${r.tiles.partials === 1 ? 'one chain (a CPU adapter)' : `${r.tiles.partials} partial sums (gru and lstm: one chain), shared by 2 or 4 threads per unit where the autotune picks a split tile (-s2, -s4${r.tiles.laneShuffles ? `; their lanes add by subgroup shuffles, -sg, in subgroups of ${r.tiles.laneShuffles}` : ''})`}; LWIN_PARTIALS forces a count (it changes results within rounding)`,
    `  weights ${r.tiles.holds ? 'held per thread for a whole dispatch (a CPU adapter, H + D ≤ 512)' : 'read from storage at every step unless the autotune picks a held tile (-p)'}; LWIN_HOLD=0|1 forces one`,
    `  held tiles' dot products ${r.tiles.subgroup ? `load ${r.tiles.subgroup} values per pass, one per subgroup lane, and broadcast them (a CPU adapter with subgroups); LWIN_SUBGROUPS=off loads each one` : 'load each value (subgroup loads are for CPU adapters with subgroups)'}`,
    `weight gradients ${r.training.weightGradients === 'staged' ? 'a GEMM staged through workgroup memory (64×64 tiles, 128×16 for thin terms; each next tile prefetched, LWIN_GRAD_PREFETCH=off waits)' : 'read straight from storage (a CPU adapter: barriers cost more than loads)'}, ${r.training.gradChunks} chunks of rows side by side; LWIN_GRAD_KERNEL, LWIN_GRAD_CHUNKS force them`,
    `training set ${r.training.residentBytes ? `kept on the device up to ${mib(r.training.residentBytes)} (batches gathered there)` : 'gathered on the host batch by batch (a CPU adapter)'}; LWIN_RESIDENT=on|off forces one`,
    'kernel checks',
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.shape}\n       ${c.detail}`),
    '',
    formatProfile(r.profile),
    '',
    r.ok ? 'lwin doctor: all kernels match the float64 reference.' : 'lwin doctor: some kernels do NOT match; do not trust results on this adapter.',
  ];
  return lines.join('\n');
}
