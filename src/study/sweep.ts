// A sweep: one study per seed × optimizer, each in its own folder, so any job can run anywhere (this process, a Slurm
// array task, GNU parallel) and be rerun: `lwin run --resume` skips finished cells and continues half-trained ones.
//
// Layout: `<out>/seed_<S>/` for one optimizer, `<out>/<optimizer>/seed_<S>/` for several (the reference's
// launch_multiseed.py layout). Each job folder holds `study_config.json`, the job's complete resolved configuration,
// which its `lwin run` command reads; nothing a job writes leaves its folder.
//
// Seeds: seed S sets the model/shuffling/sampling seed and the task seed (the reference's default: `--seed` controls
// data and model), unless the task seed is pinned (`fixedTaskSeed`); `wSeed` stays as configured (SPEC §10: w_seed 212
// for every seed), so every run projects onto the same direction w.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { OptimizerSchema } from '../train/config.ts';
import { resolveStudy, type PresetName, type StudyConfig } from './config.ts';
import { differingPaths } from '../util/differences.ts';
import { readJsonFile, STUDY_CONFIG_FILE } from './resume.ts';
import { STUDY_FILES } from '../io/study-files.ts';

export { differingPaths };

/** SPEC §10: the paper repeats its run over these seeds. */
export const PAPER_SEEDS: readonly number[] = [212, 1001, 2002, 3003, 4004];

export const JOB_CONFIG_FILE = STUDY_CONFIG_FILE;

export type OptimizerName = StudyConfig['optimizer']['name'];

export interface SweepJob {
  seed: number;
  optimizer: OptimizerName;
  /** The job's study folder: `<out>/seed_<S>` or `<out>/<optimizer>/seed_<S>`. */
  dir: string;
  /** `<dir>/study_config.json`: `config` as `lwin run --config` reads it. */
  configFile: string;
  config: StudyConfig;
  /** argv of the self-contained `lwin run` command (without the program name). */
  args: string[];
  /** `args` as one shell line, for a batch scheduler. */
  command: string;
}

export interface PlanOptions {
  /** The preset the sweep resolved from; the job's JSON holds every field, so it only documents the origin. */
  preset?: PresetName;
  /** Keep `config.task.seed` for every job (the same data for all seeds) instead of following the seed. */
  fixedTaskSeed?: boolean;
  /** Extra arguments for every command (device choice: `--backend vulkan`, …). */
  extraArgs?: readonly string[];
  /** The program that runs a job; default `lwin`. */
  program?: string;
}

/** One job per optimizer × seed (optimizer-major), each validated exactly as `lwin run --config` would. */
export function planJobs(config: StudyConfig, seeds: readonly number[], optimizers: readonly string[], out: string, options: PlanOptions = {}): SweepJob[] {
  checkSweepLists(seeds, optimizers);
  const preset = options.preset ?? 'quick';
  const several = optimizers.length > 1;
  return optimizers.flatMap((optimizer) =>
    seeds.map((seed) => {
      const dir = several ? join(out, optimizer, `seed_${seed}`) : join(out, `seed_${seed}`);
      const configFile = join(dir, JOB_CONFIG_FILE);
      const wanted = structuredClone(config);
      wanted.seed = seed;
      if (!options.fixedTaskSeed) wanted.task.seed = seed;
      wanted.optimizer = { ...wanted.optimizer, name: optimizer as OptimizerName };
      const resolved = resolveStudy(preset, wanted as unknown as Record<string, unknown>, `sweep job ${dir}`);
      const args = ['run', '--preset', preset, '--config', configFile, '--out', dir, '--resume', ...(options.extraArgs ?? [])];
      return { seed, optimizer: resolved.optimizer.name, dir, configFile, config: resolved, args, command: shellLine([options.program ?? 'lwin', ...args]) };
    }),
  );
}

function checkSweepLists(seeds: readonly number[], optimizers: readonly string[]): void {
  const problems: string[] = [];
  if (seeds.length === 0) problems.push('no seeds: give at least one, e.g. --seeds 212,1001');
  const badSeed = seeds.find((s) => !Number.isInteger(s) || s < 0);
  if (badSeed !== undefined) problems.push(`seed ${badSeed} is not a non-negative integer`);
  const twiceSeed = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twiceSeed !== undefined) problems.push(`seed ${twiceSeed} is listed twice; two jobs would share seed_${twiceSeed}/`);
  if (optimizers.length === 0) problems.push('no optimizers: give at least one, e.g. --optimizers adamw,sgd');
  const known = OptimizerSchema.shape.name.options as readonly string[];
  const unknown = optimizers.filter((o) => !known.includes(o));
  if (unknown.length) problems.push(`unknown optimizer ${unknown.join(', ')}; expected one of ${known.join(', ')}`);
  const twiceOptimizer = optimizers.find((o, i) => optimizers.indexOf(o) !== i);
  if (twiceOptimizer !== undefined) problems.push(`optimizer ${twiceOptimizer} is listed twice`);
  if (problems.length) throw new Error(`the sweep cannot be planned; nothing was run:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** Where the aggregate of each group of runs goes: `<out>` for one optimizer, `<out>/<optimizer>` for several. */
export function aggregateGroups(jobs: readonly SweepJob[], out: string): { target: string; optimizer: OptimizerName; dirs: string[] }[] {
  const optimizers = [...new Set(jobs.map((j) => j.optimizer))];
  return optimizers.map((optimizer) => ({
    optimizer,
    target: optimizers.length > 1 ? join(out, optimizer) : out,
    dirs: jobs.filter((j) => j.optimizer === optimizer).map((j) => j.dir),
  }));
}

/**
 * Writes each job's `study_config.json`. A folder that already holds a run with other settings (its
 * study_config.json or study.json) is refused rather than resumed, as resuming it would mix two configurations.
 */
export async function prepareJobs(jobs: readonly SweepJob[]): Promise<void> {
  const conflicts: string[] = [];
  for (const job of jobs) {
    for (const [file, pick] of [[job.configFile, (v: unknown) => v], [join(job.dir, STUDY_FILES.studyJson), (v: unknown) => (v as { config?: unknown }).config]] as const) {
      const previous = await readJsonFile(file, 'remove it or choose another --out');
      if (previous === undefined) continue;
      const differences = differingPaths(pick(previous), job.config);
      if (differences.length) conflicts.push(`${file} differs in ${differences.slice(0, 6).join(', ')}${differences.length > 6 ? ', …' : ''}`);
    }
  }
  if (conflicts.length) {
    throw new Error(`the sweep's folders already hold runs with other settings; nothing was run or overwritten:\n${conflicts.map((c) => `  ${c}`).join('\n')}\n` +
      'Rerun with the settings those runs used, or choose another --out.');
  }
  for (const job of jobs) {
    await mkdir(job.dir, { recursive: true });
    await writeFileAtomic(job.configFile, `${JSON.stringify(job.config, null, 2)}\n`);
  }
}

/** POSIX shell quoting: words of safe characters stay bare, anything else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
