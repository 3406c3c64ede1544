// `lwin sweep --slurm`: the sweep's planned jobs as <out>/slurm/sweep.sbatch (a job array) and aggregate.sbatch,
// then either the two sbatch commands printed or, with --submit, both submitted (only the unfinished tasks).
import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { aggregateScript, AGGREGATE_SCRIPT, arraySpec, checkSlurmOptions, finishedJobs, lwinScript, SLURM_FOLDER, sweepScript, SWEEP_SCRIPT, type AggregateGroup, type SlurmSettings } from '../study/slurm.ts';
import { refuseIfQueued, submitCommands, submitSweep, watchCommands } from '../study/slurm-submit.ts';
import type { SweepJob } from '../study/sweep.ts';
import { writingTo } from '../io/output-path.ts';

export interface SlurmFlags {
  slurm?: boolean;
  slurmOpt?: string[];
  slurmTime?: string;
  maxParallel?: number;
  submit?: boolean;
  plan?: boolean;
}

/** Slurm's --time formats: minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s, or no limit. */
const SLURM_TIME = /^(\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+|UNLIMITED|INFINITE)$/i;

const collect = (value: string, previous: string[] = []) => [...previous, value];
const positive = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: '${value}' is not a whole number ≥ 1`);
  return n;
};

export function addSlurmOptions(command: Command): Command {
  return command
    .option('--slurm', 'write <out>/slurm/sweep.sbatch (a job array: one task per study, each its `lwin run … --resume`) and aggregate.sbatch, and print the sbatch commands')
    .option('--slurm-opt <option>', 'an #SBATCH option for the jobs, e.g. --slurm-opt=--gres=gpu:1 (repeatable)', collect)
    .option('--slurm-time <limit>', 'time limit of each job (Slurm\'s --time: 30, 2:00:00, 1-00:00:00; default: the partition\'s)')
    .option('--max-parallel <n>', 'at most n array tasks at once (the array throttle %n)', positive('--max-parallel'))
    .option('--submit', 'with --slurm: submit both with sbatch (the array\'s unfinished tasks, the aggregate after them) and print the job ids');
}

/** Refuses contradictory or stray Slurm flags before anything is written. */
export function checkSlurmFlags(flags: SlurmFlags): void {
  const slurmOnly = [flags.submit && '--submit', flags.slurmOpt && '--slurm-opt', flags.slurmTime && '--slurm-time', flags.maxParallel && '--max-parallel'].filter(Boolean);
  if (!flags.slurm && slurmOnly.length) throw new Error(`${slurmOnly.join(', ')} only ${slurmOnly.length > 1 ? 'go' : 'goes'} with --slurm (the sweep as Slurm batch scripts); add --slurm, or leave ${slurmOnly.length > 1 ? 'them' : 'it'} out.`);
  if (!flags.slurm) return;
  if (flags.plan) throw new Error('--plan and --slurm: give one. --plan prints the job commands; --slurm writes them into a Slurm job array.');
  if (flags.slurmTime !== undefined && !SLURM_TIME.test(flags.slurmTime)) {
    throw new Error(`--slurm-time: '${flags.slurmTime}' is not a Slurm time limit; give minutes (30), hours:minutes:seconds (2:00:00) or days-hours:minutes:seconds (1-00:00:00).`);
  }
  checkSlurmOptions(flags.slurmOpt ?? []);
}

export async function slurmSweep(flags: SlurmFlags, out: string, jobs: readonly SweepJob[], groups: readonly AggregateGroup[]): Promise<void> {
  const slurmDir = resolve(out, SLURM_FOLDER);
  const scripts = { sweep: resolve(slurmDir, SWEEP_SCRIPT), aggregate: resolve(slurmDir, AGGREGATE_SCRIPT) };
  if (flags.submit) await refuseIfQueued([scripts.sweep, scripts.aggregate]);
  const settings: SlurmSettings = {
    slurmDir, workDir: process.cwd(), node: process.execPath, lwin: lwinScript(),
    time: flags.slurmTime, maxParallel: flags.maxParallel, options: flags.slurmOpt ?? [],
  };
  await writingTo(slurmDir, async () => {
    await mkdir(slurmDir, { recursive: true });
    await writeFileAtomic(scripts.sweep, sweepScript(jobs, settings));
    await writeFileAtomic(scripts.aggregate, aggregateScript(groups, settings));
  });
  const finished = await finishedJobs(jobs);
  const tasks = jobs.map((_, i) => i).filter((i) => !finished.has(i));
  console.error(`lwin sweep --slurm: ${jobs.length} ${jobs.length === 1 ? 'task' : 'tasks'} in ${scripts.sweep}, the aggregate in ${scripts.aggregate}`);
  for (const i of finished) console.error(`  task ${i} (${relative(out, jobs[i]!.dir)}) is finished: not submitted again`);
  if (!flags.submit) {
    console.error('submit them with (or rerun with --submit):');
    console.log(submitCommands(scripts.sweep, scripts.aggregate, tasks, flags.maxParallel).join('\n'));
    return;
  }
  const submission = await submitSweep(scripts.sweep, scripts.aggregate, tasks, flags.maxParallel);
  const array = submission.arrayJob === undefined ? 'no array job (every task had finished)' : `array job ${submission.arrayJob} (tasks ${arraySpec(tasks)})`;
  console.log(`submitted: ${array}, aggregate job ${submission.aggregateJob}${submission.arrayJob === undefined ? '' : ' (after the array: afterok)'}`);
  console.log(`watch them:\n${watchCommands(submission).map((c) => `  ${c}`).join('\n')}`);
  console.log(`logs: ${slurmDir}/task_<array job>_<task>.log, ${slurmDir}/aggregate_${submission.aggregateJob}.log`);
}
