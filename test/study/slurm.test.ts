// The Slurm scripts of a sweep, without Slurm: their #SBATCH headers, and each script run by bash with the program
// replaced by a recorder, so that what task i would execute is read back word for word and compared with the
// plan's job i; the array specs, the refused pass-through options, the finished-job check and where bin/lwin.js is
// found; then the submission through stand-in sbatch/squeue commands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QUICK_PRESET } from '../../src/study/config.ts';
import { aggregateGroups, planJobs, prepareJobs, shellQuote } from '../../src/study/sweep.ts';
import { aggregateScript, arraySpec, checkSlurmOptions, finishedJobs, lwinScript, sweepScript, type SlurmSettings } from '../../src/study/slurm.ts';
import { refuseIfQueued, submitCommands, submitSweep } from '../../src/study/slurm-submit.ts';
import { STUDY_FILES } from '../../src/io/study-files.ts';

const REPO = resolve(import.meta.dirname, '../..');
let root: string;
/** A stand-in for node: prints the folder it runs in, then each argument it gets, one a line. */
let recorder: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "lwin slurm's "));
  recorder = join(root, 'record');
  await writeFile(recorder, '#!/bin/sh\nprintf "%s\\n" "$PWD"\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const settings = (over: Partial<SlurmSettings> = {}): SlurmSettings => ({
  slurmDir: join(root, 'out', 'slurm'), workDir: root, node: recorder, lwin: '/opt/lwin/bin/lwin.js', options: [], ...over,
});

/** Runs a script with bash as Slurm would (its own folder as cwd does not matter: it cds), returning what it ran. */
function runScript(text: string, env: Record<string, string>): { status: number | null; words: string[]; stderr: string } {
  const run = spawnSync('bash', ['-c', text], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  return { status: run.status, words: run.stdout.split('\n').slice(0, -1), stderr: run.stderr };
}

/** The #SBATCH lines, the (quoted) log paths shown as <task log> and <aggregate log>. */
const sbatchLines = (text: string) => text.split('\n').filter((l) => l.startsWith('#SBATCH '))
  .map((l) => l.replace(shellQuote(join(root, 'out', 'slurm', 'task_%A_%a.log')), '<task log>').replace(shellQuote(join(root, 'out', 'slurm', 'aggregate_%j.log')), '<aggregate log>'));

describe('sweep.sbatch', () => {
  // A relative --out with a space and a quote: the task must still find it after its cd.
  const jobs = planJobs(QUICK_PRESET, [212, 1001], ['adamw', 'sgd'], "my sweep's out", { extraArgs: ['--backend', 'vulkan'] });

  it.each(jobs.map((job, i) => [i, job.optimizer, job.seed, job] as const))('task %i (%s, seed %i) runs the plan\'s `lwin run` exactly, from the work folder', (i, _o, _s, job) => {
    const ran = runScript(sweepScript(jobs, settings()), { SLURM_ARRAY_TASK_ID: String(i) });
    expect(ran.status, ran.stderr).toBe(0);
    const [cwd, lwin, ...args] = ran.words;
    expect(cwd, 'it cds to the absolute folder the relative --out starts from').toBe(root);
    expect(lwin, 'node runs this checkout\'s lwin').toBe('/opt/lwin/bin/lwin.js');
    expect(args, 'the job\'s arguments').toEqual(job.args);
    const planned = runScript(job.command.replace(/^lwin /, `${shellQuote(recorder)} `), {}).words.slice(1);
    expect(args, 'the words of the line `lwin sweep --plan` prints').toEqual(planned);
  });

  it.each([
    ['no task id (run without sbatch)', {}, /submit this script with sbatch/],
    ['a task the sweep does not have', { SLURM_ARRAY_TASK_ID: '4' }, /this sweep has tasks 0-3, not 4/],
  ])('refuses %s', (_name, env, message) => {
    const ran = runScript(sweepScript(jobs, settings()), env);
    expect(ran.status).not.toBe(0);
    expect(ran.words).toEqual([]);
    expect(ran.stderr).toMatch(message);
  });

  it.each<[string, Partial<SlurmSettings>, string[]]>([
    ['defaults', {}, ['--job-name=lwin-sweep', '--array=0-3', '--ntasks=1', '--output=<task log>', '--export=ALL']],
    ['time, throttle and options after lwin\'s', { time: '2:00:00', maxParallel: 2, options: ['--gres=gpu:1', '--partition=gpu'] },
      ['--job-name=lwin-sweep', '--array=0-3%2', '--ntasks=1', '--output=<task log>', '--export=ALL', '--time=2:00:00', '--gres=gpu:1', '--partition=gpu']],
  ])('#SBATCH header: %s', (_name, over, expected) => {
    expect(sbatchLines(sweepScript(jobs, settings(over)))).toEqual(expected.map((o) => `#SBATCH ${o}`));
  });
});

describe('aggregate.sbatch', () => {
  const jobs = planJobs(QUICK_PRESET, [212, 1001], ['adamw', 'sgd'], 'agg');

  it('runs `lwin aggregate` of each optimizer\'s studies into its folder', () => {
    const groups = aggregateGroups(jobs, 'agg');
    const text = aggregateScript(groups, settings());
    const ran = runScript(text, {});
    expect(ran.status, ran.stderr).toBe(0);
    // The recorder prints the folder, then its arguments, once per optimizer.
    const expected = groups.flatMap((g) => [root, '/opt/lwin/bin/lwin.js', 'aggregate', '--out', g.target, ...g.dirs]);
    expect(ran.words).toEqual(expected);
    expect(groups.map((g) => g.target)).toEqual(['agg/adamw', 'agg/sgd']);
    expect(text, 'tells what to do when a task failed').toMatch(/resubmit the sweep with the same `lwin sweep … --slurm --submit`/);
  });

  it('is cancelled when a task fails, and takes the options but a GPU\'s', () => {
    const options = ['--gres=gpu:1', '--gpus=1', '-G 1', '--gpus-per-node=2', '--mem-per-gpu=8G', '--partition=gpu', '--account=lab', '--qos=normal'];
    expect(sbatchLines(aggregateScript(aggregateGroups(jobs, 'agg'), settings({ options, time: '30' })))).toEqual([
      '--job-name=lwin-aggregate', '--kill-on-invalid-dep=yes', '--ntasks=1', '--output=<aggregate log>', '--export=ALL',
      '--time=30', '--partition=gpu', '--account=lab', '--qos=normal',
    ].map((o) => `#SBATCH ${o}`));
  });
});

describe('arraySpec', () => {
  it.each<[number[], number | undefined, string]>([
    [[0], undefined, '0'], [[0, 1, 2, 3, 4], undefined, '0-4'], [[0, 1], 2, '0-1%2'], [[1, 3], undefined, '1,3'], [[0, 2, 3], 1, '0,2,3%1'],
  ])('%j throttled to %s: %s', (tasks, max, expected) => {
    expect(arraySpec(tasks, max)).toBe(expected);
  });
});

describe('checkSlurmOptions', () => {
  it('passes sbatch options through', () => {
    expect(() => checkSlurmOptions(['--gres=gpu:1', '-p gpu', '--partition gpu', '--mem=8G', '--arrays-are-not-array'])).not.toThrow();
  });
  it.each([
    ['not an option', 'gres=gpu:1', /'gres=gpu:1' is not an sbatch option/],
    ['the array', '--array=0-3', /'--array=0-3': lwin sets the array .*--max-parallel/],
    ['the short array', '-a 1', /'-a 1': lwin sets the array/],
    ['the log', '--output=x.log', /'--output=x.log': lwin writes every job's log under <out>\/slurm/],
    ['the short log', '-o x', /'-o x': lwin writes/],
    ['the error log', '--error=x', /'--error=x'/],
    ['a dependency', '--dependency=afterok:1', /lwin makes the aggregate wait/],
    ['a line break', '--mem=1G\n#SBATCH --array=0', /holds a line break/],
  ])('refuses %s', (_name, option, message) => {
    expect(() => checkSlurmOptions([option])).toThrow(message);
  });
});

describe('finishedJobs', () => {
  it('counts a job finished once its study.json records the settings, not when only planned or started', async () => {
    const jobs = planJobs(QUICK_PRESET, [212, 1001, 2002], ['adamw'], join(root, 'finished'));
    await prepareJobs(jobs);
    expect(await finishedJobs(jobs)).toEqual(new Set());
    await writeFile(join(jobs[1]!.dir, STUDY_FILES.studyJson), JSON.stringify({ config: jobs[1]!.config }));
    await mkdir(join(jobs[2]!.dir, 'gru'), { recursive: true });
    expect(await finishedJobs(jobs)).toEqual(new Set([1]));
  });
});

describe('lwinScript', () => {
  it.each([
    ['the checkout (src/study)', join(REPO, 'src', 'study', 'slurm.ts')],
    ['the built package (dist/src/study)', join(REPO, 'dist', 'src', 'study', 'slurm.js')],
  ])('finds bin/lwin.js from %s', (_name, from) => {
    expect(lwinScript(from)).toBe(join(REPO, 'bin', 'lwin.js'));
  });
  it('says so when there is none', () => {
    expect(() => lwinScript(join(root, 'a', 'b.js'))).toThrow(/found no bin\/lwin.js above/);
  });
});

// ---- submission, through stand-in sbatch and squeue that log their arguments --------------------------------------

describe('submission', () => {
  let bin: string;
  let log: string;
  const env = () => ({ ...process.env, PATH: `${bin}:${process.env.PATH}` });
  let plain: string;
  beforeAll(async () => {
    // The stand-ins quote their own paths in single quotes: a folder without one.
    plain = await mkdtemp(join(tmpdir(), 'lwin-slurm-fakes-'));
    bin = join(plain, 'bin');
    log = join(plain, 'calls.log');
    await mkdir(bin);
    await writeFile(join(bin, 'sbatch'), `#!/bin/sh\necho "sbatch $*" >> '${log}'\nn=$(wc -l < '${log}')\necho "$((40 + n));cluster"\n`);
    await writeFile(join(bin, 'squeue'), `#!/bin/sh\necho "squeue $*" >> '${log}'\ncat '${join(plain, 'queue')}'\n`);
    for (const f of ['sbatch', 'squeue']) await chmod(join(bin, f), 0o755);
  });
  afterAll(async () => {
    await rm(plain, { recursive: true, force: true });
  });
  const calls = async () => (await readFile(log, 'utf8')).trim().split('\n');

  it('submits the unfinished tasks, then the aggregate after the array', async () => {
    await rm(log, { force: true });
    const submission = await submitSweep('/s/sweep.sbatch', '/s/aggregate.sbatch', [0, 2], 1, env());
    expect(submission).toEqual({ arrayJob: '41', aggregateJob: '42', tasks: [0, 2] });
    expect(await calls()).toEqual(['sbatch --parsable --array=0,2%1 /s/sweep.sbatch', 'sbatch --parsable --dependency=afterok:41 /s/aggregate.sbatch']);
    expect(submitCommands('/s/sweep.sbatch', '/s/aggregate.sbatch', [0, 2], 1)).toEqual([
      'array=$(sbatch --parsable --array=0,2%1 /s/sweep.sbatch)', 'sbatch --dependency=afterok:${array%%;*} /s/aggregate.sbatch',
    ]);
  });

  it('submits only the aggregate when every task had finished', async () => {
    await rm(log, { force: true });
    expect(await submitSweep('/s/sweep.sbatch', '/s/aggregate.sbatch', [], undefined, env())).toEqual({ aggregateJob: '41', tasks: [] });
    expect(await calls()).toEqual(['sbatch --parsable /s/aggregate.sbatch']);
    expect(submitCommands('/s/sweep.sbatch', '/s/aggregate.sbatch', [])).toEqual(['sbatch /s/aggregate.sbatch']);
  });

  it('refuses while an earlier submission of the same scripts is queued or running, not for other jobs', async () => {
    await rm(log, { force: true });
    await writeFile(join(plain, 'queue'), '7_1|RUNNING|/s/sweep.sbatch\n7_[2-3%1]|PENDING|/s/sweep.sbatch\n9|RUNNING|/other/job.sh\n');
    await expect(refuseIfQueued(['/s/sweep.sbatch', '/s/aggregate.sbatch'], env())).rejects.toThrow(
      /still in Slurm's queue: 7_1 RUNNING, 7_\[2-3%1\] PENDING; nothing was submitted.*scancel 7\)/);
    expect(await calls()).toContain('squeue --me --noheader --format=%i|%T|%o');
    await writeFile(join(plain, 'queue'), '9|RUNNING|/other/job.sh\n');
    await expect(refuseIfQueued(['/s/sweep.sbatch'], env())).resolves.toBeUndefined();
  });

  it('says where to run when sbatch is not installed', async () => {
    await expect(submitSweep('/s/sweep.sbatch', '/s/aggregate.sbatch', [0], undefined, { PATH: join(root, 'nothing') })).rejects.toThrow(
      /sbatch was not found on PATH: --submit must run where Slurm's commands are.*Leave out --submit/);
  });
});
