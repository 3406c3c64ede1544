// `lwin sweep --slurm` as a user runs it (bin/lwin.js, no GPU needed: nothing trains): the scripts and the printed
// sbatch commands, a rerun that leaves finished studies out of the array, a rerun with changed settings refused with
// nothing rewritten, the flag refusals, and --submit through stand-in sbatch/squeue commands on PATH.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkSlurmFlags, type SlurmFlags } from '../../src/cli/sweep-slurm.ts';

const REPO = resolve(import.meta.dirname, '../..');
const SETTINGS = ['--seeds', '212,1001', '--cells', 'gru', '--epochs', '2', '--hidden', '8'];
let root: string;
let fakes: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lwin-sweep-slurm-'));
  fakes = join(root, 'bin');
  await mkdir(fakes);
  await writeFile(join(fakes, 'sbatch'), `#!/bin/sh\necho "sbatch $*" >> ${join(root, 'calls.log')}\nn=$(wc -l < ${join(root, 'calls.log')})\necho "$((40 + n))"\n`);
  await writeFile(join(fakes, 'squeue'), '#!/bin/sh\n');
  for (const f of ['sbatch', 'squeue']) await chmod(join(fakes, f), 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function lwin(args: readonly string[], path = process.env.PATH): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(REPO, 'bin', 'lwin.js'), ...args], { cwd: REPO, env: { ...process.env, PATH: path }, timeout: 120_000 }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

describe('lwin sweep --slurm', () => {
  it('writes both scripts and sweep_jobs.txt, prints the sbatch commands; a rerun leaves finished studies out; changed settings are refused', async () => {
    const out = join(root, 'sweep');
    const first = await lwin(['sweep', ...SETTINGS, '--out', out, '--slurm', '--max-parallel', '2', '--slurm-opt', '--gres=gpu:1']);
    expect(first.code, first.stderr).toBe(0);
    const slurm = join(out, 'slurm');
    expect(first.stdout.trim().split('\n')).toEqual([
      `array=$(sbatch --parsable --array=0-1%2 ${join(slurm, 'sweep.sbatch')})`, `sbatch --dependency=afterok:\${array%%;*} ${join(slurm, 'aggregate.sbatch')}`,
    ]);
    const script = await readFile(join(slurm, 'sweep.sbatch'), 'utf8');
    const jobs = (await readFile(join(out, 'sweep_jobs.txt'), 'utf8')).trim().split('\n');
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      expect(script, 'each task runs its planned line with this node and this checkout\'s lwin').toContain(`exec ${process.execPath} ${join(REPO, 'bin', 'lwin.js')} ${job.replace(/^lwin /, '')} ;;`);
    }
    expect(script).toContain(`\ncd ${REPO}\n`);
    expect(script).toContain('#SBATCH --gres=gpu:1\n');
    expect(await readFile(join(slurm, 'aggregate.sbatch'), 'utf8')).toContain(`lwin.js aggregate --out ${out} ${join(out, 'seed_212')} ${join(out, 'seed_1001')}\n`);

    const config = JSON.parse(await readFile(join(out, 'seed_212', 'study_config.json'), 'utf8')) as unknown;
    await writeFile(join(out, 'seed_212', 'study.json'), JSON.stringify({ config }));
    const again = await lwin(['sweep', ...SETTINGS, '--out', out, '--slurm']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`--array=1 ${join(slurm, 'sweep.sbatch')}`);
    expect(again.stderr).toContain('task 0 (seed_212) is finished: not submitted again');

    const before = await readFile(join(slurm, 'sweep.sbatch'), 'utf8');
    const changed = await lwin(['sweep', ...SETTINGS, '--epochs', '3', '--out', out, '--slurm']);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toMatch(/seed_1001.study_config\.json differs in epochs/);
    expect(await readFile(join(slurm, 'sweep.sbatch'), 'utf8'), 'the scripts are left as they were').toBe(before);
  });

  it('--submit submits the array, then the aggregate after it, and prints the ids and how to watch them', async () => {
    const out = join(root, 'submitted');
    const run = await lwin(['sweep', ...SETTINGS, '--out', out, '--slurm', '--submit'], `${fakes}:${process.env.PATH}`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('submitted: array job 41 (tasks 0-1), aggregate job 42 (after the array: afterok)');
    expect(run.stdout).toContain('squeue -j 41,42');
    expect(run.stdout).toContain('sacct -j 41,42');
    expect((await readFile(join(root, 'calls.log'), 'utf8')).trim().split('\n')).toEqual([
      `sbatch --parsable --array=0-1 ${join(out, 'slurm', 'sweep.sbatch')}`, `sbatch --parsable --dependency=afterok:41 ${join(out, 'slurm', 'aggregate.sbatch')}`,
    ]);
  });

  it('refuses a Slurm flag without --slurm before writing anything', async () => {
    const out = join(root, 'refused');
    const run = await lwin(['sweep', ...SETTINGS, '--out', out, '--submit']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--submit only goes with --slurm/);
    expect(existsSync(out), 'nothing written').toBe(false);
  });

  it.each<[string, SlurmFlags, RegExp]>([
    ['--submit without --slurm', { submit: true }, /--submit only goes with --slurm.*add --slurm, or leave it out/],
    ['several without --slurm', { slurmOpt: ['--mem=1G'], maxParallel: 2 }, /--slurm-opt, --max-parallel only go with --slurm.*leave them out/],
    ['--plan with --slurm', { slurm: true, plan: true }, /--plan and --slurm: give one/],
    ['a time Slurm does not read', { slurm: true, slurmTime: '2h' }, /--slurm-time: '2h' is not a Slurm time limit/],
    ['an option lwin sets', { slurm: true, slurmOpt: ['--array=0-3'] }, /--slurm-opt: nothing was written:\n {2}'--array=0-3': lwin sets the array/],
  ])('refuses %s', (_name, flags, message) => {
    expect(() => checkSlurmFlags(flags)).toThrow(message);
  });

  it.each(['30', '2:00:00', '1-00:00:00', '1-12', 'UNLIMITED'])('takes --slurm-time %s', (time) => {
    expect(() => checkSlurmFlags({ slurm: true, slurmTime: time })).not.toThrow();
  });
});
