// Handing a written sweep to Slurm: `sbatch` the array (only its unfinished tasks) and the aggregate after it, and
// refuse while an earlier submission of the same scripts is still queued or running, as two tasks writing one study
// folder at once would corrupt it.
import { execFile } from 'node:child_process';
import { arraySpec } from './slurm.ts';
import { shellLine } from './sweep.ts';

export interface Submission {
  /** The array job, absent when every task had finished and only the aggregate was submitted. */
  arrayJob?: string;
  aggregateJob: string;
  /** The array task indices submitted. */
  tasks: readonly number[];
}

export interface QueuedJob {
  id: string;
  state: string;
  script: string;
}

/** Runs one Slurm command; a missing command or a failure is told with what to do. */
function slurm(program: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile(program, args, { encoding: 'utf8', env }, (error, stdout, stderr) => {
      if (!error) return done(stdout);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return fail(new Error(`${program} was not found on PATH: --submit must run where Slurm's commands are (a login node). ` +
          'Leave out --submit to have the sbatch commands printed, and run them there.'));
      }
      fail(new Error(`\`${shellLine([program, ...args])}\` failed (${error.code ?? error.signal}): ${stderr.trim() || stdout.trim() || error.message}`));
    });
  });
}

/** `sbatch --parsable` prints `<id>` or `<id>;<cluster>`. */
function jobId(output: string, script: string): string {
  const id = output.trim().split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new Error(`sbatch ${script} printed '${output.trim()}', not a job id; see Slurm's message above.`);
  return id;
}

/** This user's jobs still queued or running whose batch script is one of `scripts` (squeue's %o). */
export async function queuedJobs(scripts: readonly string[], env = process.env): Promise<QueuedJob[]> {
  const lines = (await slurm('squeue', ['--me', '--noheader', '--format=%i|%T|%o'], env)).split('\n').filter(Boolean);
  return lines
    .map((line) => {
      const [id = '', state = '', script = ''] = line.split('|');
      return { id, state, script };
    })
    .filter((job) => scripts.includes(job.script));
}

/** Refuses to submit while jobs of an earlier submission of these scripts are still queued or running. */
export async function refuseIfQueued(scripts: readonly string[], env = process.env): Promise<void> {
  const queued = await queuedJobs(scripts, env);
  if (queued.length === 0) return;
  throw new Error(`jobs of an earlier submission of this sweep are still in Slurm's queue: ${queued.map((j) => `${j.id} ${j.state}`).join(', ')}; nothing was submitted, ` +
    `as two tasks must not write one study at once. Wait for them (squeue --me), or cancel them (scancel ${[...new Set(queued.map((j) => j.id.split('_')[0]))].join(' ')}), then resubmit.`);
}

/** Submits the unfinished `tasks` of the array, then the aggregate after them (afterok); only the aggregate if none. */
export async function submitSweep(sweepScript: string, aggregateScript: string, tasks: readonly number[], maxParallel?: number, env = process.env): Promise<Submission> {
  if (tasks.length === 0) return { aggregateJob: jobId(await slurm('sbatch', ['--parsable', aggregateScript], env), aggregateScript), tasks };
  const arrayJob = jobId(await slurm('sbatch', ['--parsable', `--array=${arraySpec(tasks, maxParallel)}`, sweepScript], env), sweepScript);
  const aggregateJob = jobId(await slurm('sbatch', ['--parsable', `--dependency=afterok:${arrayJob}`, aggregateScript], env), aggregateScript);
  return { arrayJob, aggregateJob, tasks };
}

/** The commands `--submit` would run, for a person to run on a login node. */
export function submitCommands(sweepScript: string, aggregateScript: string, tasks: readonly number[], maxParallel?: number): string[] {
  if (tasks.length === 0) return [shellLine(['sbatch', aggregateScript])];
  return [
    `array=$(${shellLine(['sbatch', '--parsable', `--array=${arraySpec(tasks, maxParallel)}`, sweepScript])})`,
    `sbatch --dependency=afterok:\${array%%;*} ${shellLine([aggregateScript])}`,
  ];
}

/** The lines to watch a submission with. */
export function watchCommands(submission: Submission): string[] {
  const ids = [submission.arrayJob, submission.aggregateJob].filter((id): id is string => id !== undefined).join(',');
  return [`squeue -j ${ids}`, `sacct -j ${ids} --format=JobID,JobName%16,State,ExitCode,Elapsed`];
}
