// The output folder a command is given (src/cli/output-folder.ts) and the errors of output paths
// (src/io/output-path.ts), without a GPU: what each kind of folder is told as, the refusals and their three ways on,
// --force deleting only lwin's outputs (never an input), and path failures said in terms of the path given.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimOutputFolder, inspectFolder, newOutputFolder, type ClaimOptions } from '../../src/cli/output-folder.ts';
import { explainOutputError, writingTo } from '../../src/io/output-path.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lwin-out-folder-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Creates `files` (relative path → contents) under a new folder `name` and returns its path. */
async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const STUDY = {
  'study.json': JSON.stringify({ config: { cells: ['const', 'gru'], seed: 212, epochs: 8 } }),
  'H_N_summary.csv': 'N,H_N_const,H_N_gru\n',
  'cli_args.csv': 'argument,value\n',
  'const/const_cell.json': '{}',
  'gru/gru_cell.json': '{}',
  'gru/gru.safetensors': 'weights',
};
const TRAINING = { 'gru_learning_curve.csv': 'epoch\n', 'gate_stats_gru.csv': 'epoch\n', 'checkpoints/latest.json': '{"epoch":20,"folder":"epoch-000020"}' };

describe('inspectFolder tells what a folder holds', () => {
  it.each([
    ['a missing folder', null, 'missing', 'nothing (it does not exist yet)'],
    ['an empty folder', {}, 'empty', 'nothing'],
    ['a finished study', STUDY, 'study', 'a finished study (cells const, gru; seed 212, 8 epochs)'],
    ['an unfinished study', { 'const/const_cell.json': '{}', 'gru/checkpoints/latest.json': '{}' }, 'unfinished-study', 'an unfinished study (finished: const; started: gru)'],
    ['a planned sweep job', { 'study_config.json': '{}' }, 'unfinished-study', 'an unfinished study (planned, not started)'],
    ['a diagnosis', { 'study.json': JSON.stringify({ config: { cells: ['gru'] }, weights: 'w.safetensors' }) }, 'diagnosis', 'a diagnosis of w.safetensors (cells gru)'],
    ['a training run', TRAINING, 'training', 'a training run (cell gru, checkpoint at epoch 20)'],
    ['a sweep', { 'seed_212/study.json': '{}', 'seed_1001/study.json': '{}', 'aggregate/runs.json': '{}' }, 'sweep', 'a sweep (seed_1001, seed_212)'],
    ['a sweep over several optimizers', { 'adamw/seed_212/study.json': '{}', 'sgd/seed_212/study.json': '{}' }, 'sweep', 'a sweep (adamw, sgd)'],
    ['anything else', { 'a.txt': '', 'b.txt': '', 'c.txt': '', 'd.txt': '', 'e.txt': '' }, 'other', '5 entries: a.txt, b.txt, c.txt, d.txt, … (5 in all)'],
  ])('%s', async (name, files, kind, summary) => {
    const dir = files ? await folder(`inspect-${name.replace(/ /g, '-')}`, files) : join(root, 'never-made');
    await expect(inspectFolder(dir)).resolves.toMatchObject({ kind, summary });
  });

  it('a regular file', async () => {
    await writeFile(join(root, 'plain-file'), 'x');
    await expect(inspectFolder(join(root, 'plain-file'))).resolves.toMatchObject({ kind: 'file' });
  });
});

describe('newOutputFolder', () => {
  it('names a new timestamped folder under lwin-out/ per command', () => {
    const now = new Date('2026-11-26T11:22:33.456Z');
    expect(newOutputFolder('train', now)).toBe(join('lwin-out', 'train-2026-11-26T11-22-33-456Z'));
    expect(newOutputFolder('diagnose', now)).toBe(join('lwin-out', 'diagnose-2026-11-26T11-22-33-456Z'));
    expect(newOutputFolder('run', new Date(now.getTime() + 1))).not.toBe(newOutputFolder('run', now));
  });
});

describe('claimOutputFolder', () => {
  const run: ClaimOptions = { command: 'run', given: true, resumes: ['study', 'unfinished-study'] };
  const diagnose: ClaimOptions = { command: 'diagnose', given: true };
  const train: ClaimOptions = { command: 'train', given: true, resumes: ['training'] };

  it('uses a missing or empty folder as it is, creating it', async () => {
    const fresh = join(root, 'claim-fresh', 'deeper');
    await claimOutputFolder(fresh, run);
    expect(await readdir(fresh)).toEqual([]);
    await claimOutputFolder(fresh, diagnose);
  });

  it.each([
    ['run over a finished study', 'refuse-run', STUDY, run,
      ['already holds a finished study (cells const, gru; seed 212, 8 epochs); `lwin run` wrote nothing', 'rerun the same command with --resume', 'add --force', 'choose another --out']],
    ['diagnose over a study (no --resume to offer)', 'refuse-diagnose', STUDY, diagnose,
      ['`lwin diagnose` wrote nothing. (`lwin diagnose` has no --resume.)', 'add --force (deletes the lwin outputs there first: H_N_summary.csv, cli_args.csv, const, gru, … (5 in all); other files stay)', 'choose another --out']],
    ['train over a finished training run', 'refuse-train', TRAINING, train,
      ['already holds a training run (cell gru, checkpoint at epoch 20); `lwin train` wrote nothing', '--resume', '--force', 'another --out']],
    ['train --resume on a study', 'resume-study', STUDY, { ...train, resume: true },
      ['--resume: --out', 'holds a finished study (cells const, gru; seed 212, 8 epochs), which `lwin train` cannot continue; nothing was written']],
    ['--resume with --force', 'both', STUDY, { ...run, resume: true, force: true }, ['--resume and --force contradict each other']],
  ] as const)('refuses %s, saying what it holds and the ways on; nothing changes', async (_name, name, files, options, messages) => {
    const dir = await folder(name, files);
    const before = await readdir(dir, { recursive: true });
    const refused = claimOutputFolder(dir, options);
    for (const message of messages) await expect(refused).rejects.toThrow(message);
    expect(await readdir(dir, { recursive: true })).toEqual(before);
  });

  it('a sweep continues its own folder, and refuses any other non-empty one', async () => {
    const sweep: ClaimOptions = { command: 'sweep', given: true, continues: ['sweep'] };
    const own = await folder('sweep-own', { 'seed_212/study.json': '{}' });
    await expect(claimOutputFolder(own, sweep)).resolves.toMatchObject({ kind: 'sweep' });
    const other = await folder('sweep-other', STUDY);
    await expect(claimOutputFolder(other, sweep)).rejects.toThrow(
      `--out ${other} holds a finished study (cells const, gru; seed 212, 8 epochs), not a sweep; \`lwin sweep\` wrote nothing. It continues only a folder of its own kind: choose another --out`,
    );
  });

  it('refuses a regular file as --out', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'mine');
    await expect(claimOutputFolder(file, run)).rejects.toThrow(`--out ${file} is a file, not a folder. Give --out a folder path (lwin creates it), or move the file away.`);
  });

  it('--resume continues the folder it can continue (settings are checked later, by the study or trainer)', async () => {
    const dir = await folder('resume-ok', STUDY);
    await expect(claimOutputFolder(dir, { ...run, resume: true })).resolves.toMatchObject({ kind: 'study' });
  });

  it('--force deletes lwin\'s outputs only, and says so', async () => {
    const dir = await folder('force', { ...STUDY, 'notes.txt': 'my notes', 'data/x.npy': 'data' });
    const lines: string[] = [];
    await claimOutputFolder(dir, { ...run, force: true, log: (line) => lines.push(line) });
    expect((await readdir(dir)).sort()).toEqual(['data', 'notes.txt']);
    expect(lines).toEqual([`--force: deleted a finished study (cells const, gru; seed 212, 8 epochs) in ${dir} (H_N_summary.csv, cli_args.csv, const, gru, … (5 in all)); 2 other entries kept`]);
  });

  it('--force deletes a Slurm sweep\'s scripts and logs (slurm/) with its studies', async () => {
    const dir = await folder('force-slurm', { 'seed_212/study.json': '{}', 'sweep_jobs.txt': 'lwin run\n', 'slurm/sweep.sbatch': '#!/bin/bash\n', 'notes.txt': 'mine' });
    await claimOutputFolder(dir, { ...run, force: true });
    expect(await readdir(dir)).toEqual(['notes.txt']);
  });

  it('--force refuses to delete a folder holding one of the command\'s inputs', async () => {
    const dir = await folder('force-input', STUDY);
    const weights = join(dir, 'gru', 'gru.safetensors');
    await expect(claimOutputFolder(dir, { ...diagnose, force: true, inputs: [undefined, weights] })).rejects.toThrow(
      `--force would delete ${join(dir, 'gru')}, which holds the input ${weights}; nothing was deleted`,
    );
    expect((await readdir(dir)).sort()).toEqual(Object.keys(STUDY).map((p) => p.split('/')[0]).filter((p, i, a) => a.indexOf(p) === i).sort());
  });
});

/** A Node error as fs raises it. */
const fsError = (code: string, path: string) => Object.assign(new Error(`${code}: failed, open '${path}'`), { code, path });

describe('explainOutputError: failures said in terms of the path given', () => {
  it.each([
    ['a read-only folder', fsError('EROFS', '/ro/out/gru/gru_summary.csv.1234567890'), '/ro/out', 'folder',
      'cannot write to --out /ro/out: it lies on a read-only file system (EROFS); give --out another folder, on a writable disk.'],
    ['a folder without write permission', fsError('EACCES', '/locked/out.1234567890'), '/locked/out', 'folder',
      'cannot write to --out /locked/out: permission denied (EACCES); change its permissions, or give --out another folder that you can write to.'],
    ['a full disk', fsError('ENOSPC', '/full/out/study.json.99999999'), '/full/out', 'folder', 'cannot write to --out /full/out: no space left there (ENOSPC); free some space, or give --out another folder.'],
    ['report --out on a folder', Object.assign(fsError('EISDIR', '/s/page.88888888'), { dest: '/s/page' }), '/s/page', 'file',
      '--out /s/page is a folder, but it must name the file to write; give a file name, e.g. --out /s/page/report.html'],
    ['report --out in a missing folder', fsError('ENOENT', '/no/such/report.html.77777777'), '/no/such/report.html', 'file',
      'cannot write to --out /no/such/report.html: the folder /no/such does not exist; create it, or give --out another file.'],
  ] as const)('%s', async (_name, error, path, kind, message) => {
    const explained = (await explainOutputError(error, path, '--out', kind)) as Error;
    expect(explained.message).toBe(message);
    expect(explained.message).not.toMatch(/\d{8}/);
    expect(explained.cause).toBe(error);
  });

  it('leaves errors about other paths (an input) alone', async () => {
    const error = fsError('ENOENT', '/data/x.npy');
    expect(await explainOutputError(error, '/out', '--out')).toBe(error);
    expect(await explainOutputError(new Error('no code'), '/out', '--out')).toBeInstanceOf(Error);
  });

  it('real failures: a file standing where a folder must be, a folder where the page must be', async () => {
    const file = join(root, 'in-the-way');
    await writeFile(file, 'x');
    await expect(writingTo(join(file, 'out'), () => mkdir(join(file, 'out', 'gru'), { recursive: true }))).rejects.toThrow(
      `--out ${join(file, 'out')} cannot be created: ${file} is a file, not a folder; give --out a folder path (lwin creates it), or move the file away.`,
    );
    const dir = await folder('page-is-folder', { 'x.txt': '' });
    await expect(writingTo(dir, () => writeFileAtomic(dir, '<html>'), '--out', 'file')).rejects.toThrow(
      `--out ${dir} is a folder, but it must name the file to write; give a file name, e.g. --out ${join(dir, 'report.html')}`,
    );
  });
});
