// A sweep as two Slurm batch scripts: a job array whose task i runs the sweep's job i (exactly the `lwin run …
// --resume` that `lwin sweep --plan` prints), and the aggregate, submitted to start once every task ended well
// (afterok). lwin builds no scheduler of its own: Slurm places, retries and queues; a task that died is continued by
// resubmitting, since each task resumes its own study folder.
//
// The scripts must run on a cluster node as they run here: the node binary that wrote them and this checkout's
// bin/lwin.js, both by absolute path, after a `cd` to the absolute folder the sweep's paths start from (a cluster's
// shared file system shows them at the same paths). The environment is exported (--export=ALL, Slurm's default, made
// explicit) so a job sees the same Vulkan driver and PATH as the shell that submitted it.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellLine, shellQuote, type SweepJob } from './sweep.ts';
import { recordedSettings } from './resume.ts';
import { STUDY_FILES } from '../io/study-files.ts';

export const SLURM_FOLDER = 'slurm';
export const SWEEP_SCRIPT = 'sweep.sbatch';
export const AGGREGATE_SCRIPT = 'aggregate.sbatch';

export interface SlurmSettings {
  /** Absolute: `<out>/slurm`, where the scripts and every job's log go. */
  slurmDir: string;
  /** Absolute: the folder the jobs `cd` to, from which the sweep's (maybe relative) paths are read. */
  workDir: string;
  /** Absolute: the node binary that runs lwin (the one that wrote the scripts: process.execPath). */
  node: string;
  /** Absolute: this checkout's bin/lwin.js. */
  lwin: string;
  /** `--time` of every job (Slurm's formats: `30`, `2:00:00`, `1-00:00:00`); none: the partition's default. */
  time?: string;
  /** At most this many array tasks at once (`--array=…%N`). */
  maxParallel?: number;
  /** `#SBATCH` options passed through (`--gres=gpu:1`, `--partition=gpu`), after lwin's so that they win. */
  options: readonly string[];
}

export interface AggregateGroup {
  target: string;
  dirs: readonly string[];
}

/** Options lwin sets itself, as Slurm spells them long and short: passing one through would break the sweep. */
const OWN_OPTIONS: readonly { long: string; short?: string; why: string }[] = [
  { long: 'array', short: 'a', why: 'lwin sets the array to the sweep\'s jobs (use --max-parallel for the throttle %N)' },
  { long: 'output', short: 'o', why: 'lwin writes every job\'s log under <out>/slurm/' },
  { long: 'error', short: 'e', why: 'lwin writes every job\'s log under <out>/slurm/' },
  { long: 'dependency', short: 'd', why: 'lwin makes the aggregate wait for the array (afterok)' },
  { long: 'wrap', why: 'the scripts are the job' },
];

/** The `#SBATCH` options a GPU takes, left out of the aggregate, which reads CSV files and needs none. */
const GPU_OPTION = /^(--gres|--gpus|--gpus-per-\w+|--gpu-\w+|--mem-per-gpu|--cpus-per-gpu|-G)(=|\s|$)/;

/** Refuses `--slurm-opt` values that are no sbatch option or that take over what lwin sets, naming each. */
export function checkSlurmOptions(options: readonly string[]): void {
  const problems: string[] = [];
  for (const option of options) {
    if (!/^-[A-Za-z]|^--[a-z]/.test(option)) problems.push(`'${option}' is not an sbatch option (they start with - or --, e.g. --slurm-opt=--gres=gpu:1)`);
    else if (/[\n\r]/.test(option)) problems.push(`'${option.replace(/[\n\r]/g, '⏎')}' holds a line break; give one option per --slurm-opt`);
    else {
      const own = OWN_OPTIONS.find((o) => new RegExp(`^(--${o.long}${o.short ? `|-${o.short}` : ''})(=|\\s|$)`).test(option));
      if (own) problems.push(`'${option}': ${own.why}; leave it out`);
    }
  }
  if (problems.length) throw new Error(`--slurm-opt: nothing was written:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** `0-4`, `0-4%2`, `1,3%2`: Slurm's --array value for these task indices. */
export function arraySpec(indices: readonly number[], maxParallel?: number): string {
  if (indices.length === 0) throw new Error('arraySpec: no tasks');
  const contiguous = indices.every((v, i) => v === indices[0]! + i);
  const list = contiguous && indices.length > 1 ? `${indices[0]}-${indices[indices.length - 1]}` : indices.join(',');
  return maxParallel === undefined ? list : `${list}%${maxParallel}`;
}

function header(name: string, log: string, settings: SlurmSettings, extra: readonly string[], options: readonly string[]): string[] {
  return [
    `#SBATCH --job-name=${name}`,
    ...extra,
    '#SBATCH --ntasks=1',
    `#SBATCH --output=${shellQuote(log)}`,
    '#SBATCH --export=ALL',
    ...(settings.time ? [`#SBATCH --time=${settings.time}`] : []),
    ...options.map((o) => `#SBATCH ${o}`),
  ];
}

const lwinCommand = (settings: SlurmSettings, args: readonly string[]) => shellLine([settings.node, settings.lwin, ...args]);

/** `sweep.sbatch`: task i runs job i's `lwin run … --resume` (the plan's command with this checkout's lwin). */
export function sweepScript(jobs: readonly SweepJob[], settings: SlurmSettings): string {
  const last = jobs.length - 1;
  return [
    '#!/bin/bash',
    `# lwin sweep as a Slurm job array: task i runs study i below, the \`lwin run … --resume\` that \`lwin sweep --plan\``,
    '# prints (also in sweep_jobs.txt beside this folder). Each task resumes its own study folder, so resubmitting after',
    '# failed or cancelled tasks continues them; `lwin sweep … --slurm --submit` (the command that wrote this file)',
    '# submits only the unfinished ones, then the aggregate. The nodes must see this checkout and the sweep at these paths.',
    ...header('lwin-sweep', join(settings.slurmDir, 'task_%A_%a.log'), settings, [`#SBATCH --array=${arraySpec(jobs.map((_, i) => i), settings.maxParallel)}`], settings.options),
    'set -euo pipefail',
    `cd ${shellQuote(settings.workDir)}`,
    `case "\${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}" in`,
    ...jobs.map((job, i) => `  ${i}) # ${job.optimizer}, seed ${job.seed}\n    exec ${lwinCommand(settings, job.args)} ;;`),
    `  *) echo "lwin sweep: this sweep has tasks 0-${last}, not \${SLURM_ARRAY_TASK_ID}" >&2; exit 2 ;;`,
    'esac',
    '',
  ].join('\n');
}

/** `aggregate.sbatch`: `lwin aggregate` of each optimizer's studies, as `lwin sweep` writes it when run locally. */
export function aggregateScript(groups: readonly AggregateGroup[], settings: SlurmSettings): string {
  return [
    '#!/bin/bash',
    '# The mean ± std of the sweep\'s studies (`lwin aggregate`), submitted to start once every task of the array ended',
    '# well (--dependency=afterok:<array job>). If a task failed or was cancelled, Slurm cancels this job',
    '# (DependencyNeverSatisfied): resubmit the sweep with the same `lwin sweep … --slurm --submit`, which runs only the',
    '# unfinished tasks and then this. The aggregate needs no GPU: --slurm-opt GPU options are left out here.',
    ...header('lwin-aggregate', join(settings.slurmDir, 'aggregate_%j.log'), settings, ['#SBATCH --kill-on-invalid-dep=yes'], settings.options.filter((o) => !GPU_OPTION.test(o))),
    'set -euo pipefail',
    `cd ${shellQuote(settings.workDir)}`,
    ...groups.map((g) => lwinCommand(settings, ['aggregate', '--out', g.target, ...g.dirs])),
    '',
  ].join('\n');
}

/** The sweep's jobs whose study is finished (its study.json records the settings), by index. */
export async function finishedJobs(jobs: readonly SweepJob[]): Promise<Set<number>> {
  const finished = new Set<number>();
  for (const [i, job] of jobs.entries()) {
    const recorded = await recordedSettings(job.dir);
    if (recorded !== undefined && basename(recorded.file) === STUDY_FILES.studyJson) finished.add(i);
  }
  return finished;
}

/**
 * This checkout's bin/lwin.js, found from this module's own place: src/study/ in a checkout, dist/src/study/ once
 * built, and the bin/ folder lies beside the package's src/ (or dist/) in both.
 */
export function lwinScript(from = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); dirname(dir) !== dir; dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'lwin.js');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`lwin --slurm: found no bin/lwin.js above ${from}, so the batch scripts cannot name the lwin to run; run lwin from its checkout or installed package.`);
}
