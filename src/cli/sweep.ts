// `lwin sweep` (seeds × optimizers, each a resumable study, then their aggregate) and `lwin aggregate`.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { acquireDevice, GpuContext } from '../gpu/index.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import { runStudy } from '../study/run.ts';
import { progressOn } from '../study/pipeline.ts';
import { aggregateGroups, PAPER_SEEDS, planJobs, prepareJobs, shellLine, type SweepJob } from '../study/sweep.ts';
import { aggregateRuns, writeAggregate } from '../study/aggregate.ts';
import { terminalProgress } from '../train/progress.ts';
import { addStudyOptions, studyFromFlags, type RunFlags } from './run.ts';
import { deviceOptionsFrom, type DeviceFlags } from './device-options.ts';
import { claimOutputFolder, newOutputFolder } from './output-folder.ts';
import { writingTo } from '../io/output-path.ts';
import { addSlurmOptions, checkSlurmFlags, slurmSweep, type SlurmFlags } from './sweep-slurm.ts';
import { nodeTileCache } from '../io/node-storage.ts';

interface SweepFlags extends RunFlags, SlurmFlags {
  seeds?: number[];
  optimizers?: string[];
  plan?: boolean;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const seedList = (v: string) =>
  list(v).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seeds: '${s}' is not a non-negative integer`);
    return n;
  });

/** The device flags as arguments, so that every planned job opens the adapter the sweep was told to. */
function deviceArgs(flags: DeviceFlags): string[] {
  return [
    ...(flags.backend ? ['--backend', flags.backend] : []),
    ...(flags.adapter ? ['--adapter', flags.adapter] : []),
    ...(flags.power ? ['--power', flags.power] : []),
    ...(flags.fallback ? ['--fallback'] : []),
    ...(flags.enableToggle?.length ? ['--enable-toggle', ...flags.enableToggle] : []),
    ...(flags.disableToggle?.length ? ['--disable-toggle', ...flags.disableToggle] : []),
  ];
}

/** True when the user pinned the task seed (flag or config file): then every seed trains on the same data. */
async function taskSeedPinned(flags: SweepFlags): Promise<boolean> {
  if (flags.taskSeed !== undefined) return true;
  if (!flags.config) return false;
  const file = JSON.parse(await readFile(flags.config, 'utf8')) as { task?: { seed?: unknown } };
  return file.task?.seed !== undefined;
}

async function planSweep(flags: SweepFlags, out: string): Promise<SweepJob[]> {
  const config = await studyFromFlags(flags);
  const jobs = planJobs(config, flags.seeds ?? PAPER_SEEDS, flags.optimizers ?? [config.optimizer.name], out, {
    preset: flags.preset, fixedTaskSeed: await taskSeedPinned(flags), extraArgs: deviceArgs(flags),
  });
  await prepareJobs(jobs);
  return jobs;
}

async function runJobs(flags: SweepFlags, out: string, jobs: SweepJob[]): Promise<void> {
  const acquired = await acquireDevice(deviceOptionsFrom(flags));
  try {
    console.log(`lwin sweep on ${acquired.adapter.name}: ${plural(jobs.length, 'study', 'studies')} → ${out}`);
    for (const [i, job] of jobs.entries()) {
      console.log(`[${i + 1}/${jobs.length}] ${job.optimizer}, seed ${job.seed} → ${job.dir}`);
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true, tileCache: nodeTileCache() });
      try {
        await runStudy(ctx, job.config, job.dir, { resume: true, adapter: acquired.adapter, progress: progressOn(terminalProgress, (line) => console.log(`  ${line}`)) });
      } finally {
        ctx.destroy();
      }
    }
  } catch (error) {
    if (error instanceof DeviceLostError) throw new Error(`${error.message} Rerun the same sweep with --out ${out}: finished studies and cells are kept.`);
    throw error;
  } finally {
    acquired.release();
  }
}

function registerSweepCommand(program: Command): void {
  const command = program
    .command('sweep')
    .description('one study per seed × optimizer (resumable: rerun to continue), then their mean ± std in <out>/aggregate')
    .option('--seeds <list>', `seeds, comma-separated (default: the paper's ${PAPER_SEEDS.join(',')})`, seedList)
    .option('--optimizers <list>', 'optimizers, comma-separated (default: the study\'s optimizer); several: <out>/<optimizer>/seed_<S>/', list)
    .option('--plan', 'print one self-contained `lwin run` command per job (for Slurm, GNU parallel, …) and exit without running');
  addSlurmOptions(command);
  addStudyOptions(command).action(async (flags: SweepFlags) => {
    checkSlurmFlags(flags);
    const out = flags.out ?? newOutputFolder('sweep');
    // A sweep always continues its own folder (each job resumes, with its settings checked); anything else is refused.
    await claimOutputFolder(out, { command: 'sweep', given: flags.out !== undefined, continues: ['sweep'] });
    await writingTo(out, async () => runSweep(flags, out, await planSweep(flags, out)));
  });
}

async function runSweep(flags: SweepFlags, out: string, jobs: SweepJob[]): Promise<void> {
  const groups = aggregateGroups(jobs, out);
  if (flags.plan || flags.slurm) await writeFileAtomic(join(out, 'sweep_jobs.txt'), `${jobs.map((j) => j.command).join('\n')}\n`);
  if (flags.slurm) return slurmSweep(flags, out, jobs, groups);
  if (flags.plan) {
    console.log(jobs.map((j) => j.command).join('\n'));
    console.error(`lwin sweep --plan: ${plural(jobs.length, 'job', 'jobs')} (also in ${join(out, 'sweep_jobs.txt')}); once they are done:`);
    for (const g of groups) console.error(`  ${shellLine(['lwin', 'aggregate', '--out', g.target, ...g.dirs])}`);
    return;
  }
  const started = performance.now();
  await runJobs(flags, out, jobs);
  for (const group of groups) {
    const written = await writeAggregate(group.target, await aggregateRuns(group.dirs));
    console.log(`aggregate of ${plural(group.dirs.length, 'run', 'runs')} (${group.optimizer}): ${join(group.target, 'aggregate')} (${written.length} files)`);
  }
  console.log(`finished in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

function registerAggregateCommand(program: Command): void {
  program
    .command('aggregate')
    .description('mean ± std across finished studies (e.g. a sweep\'s seed folders), per cell, per lag and per budget')
    .argument('[dirs...]', 'folders of finished studies (each with H_N_summary.csv)')
    .requiredOption('--out <dir>', 'where to write aggregate/<cell>_summary_aggregate.csv and aggregate/<cell>_H_N_aggregate.csv')
    .option('--allow-different', 'average runs whose settings differ besides the seeds (refused otherwise); the differences go into aggregate/runs.json')
    .action(async (dirs: string[], flags: { out: string; allowDifferent?: boolean }) => {
      const table = await aggregateRuns(dirs, { allowDifferent: flags.allowDifferent });
      for (const dir of table.unchecked) console.warn(`lwin: warning: ${dir} has no readable study.json, so its settings were not compared with the others'`);
      for (const d of table.differences) console.warn(`lwin: warning: --allow-different: averaged runs that differ in ${d.setting} (recorded in aggregate/runs.json)`);
      const written = await writingTo(flags.out, () => writeAggregate(flags.out, table));
      console.log(`aggregated ${plural(table.runs.length, 'run', 'runs')}, cells ${table.cells.map((c) => `${c.cell} (${c.runs.length})`).join(', ')}: ${join(flags.out, 'aggregate')} (${written.length} files)`);
    });
}

export function registerSweep(program: Command): void {
  registerSweepCommand(program);
  registerAggregateCommand(program);
}
