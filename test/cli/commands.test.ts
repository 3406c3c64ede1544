// `lwin run`, `lwin train` and `lwin diagnose` never write over what an --out folder holds: each command line is
// parsed by the real commands, in process; the refusals come before any GPU work, and the folder is left as it was.
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRun } from '../../src/cli/run.ts';
import { registerTrain, trainConfigFromFlags, type TrainFlags } from '../../src/cli/train.ts';
import { registerDiagnose } from '../../src/cli/diagnose.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { buildLayout, initParams } from '../../src/model/index.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';

// Made at load time: the table below names these paths.
const root = mkdtempSync(join(tmpdir(), 'lwin-cli-'));
const study = join(root, 'study');
const training = join(root, 'training');
const weights = join(root, 'weights.safetensors');

/** Every file under `dir` with its size and modification time: what "left as it was" compares. */
async function snapshot(dir: string): Promise<string[]> {
  const names = (await readdir(dir, { recursive: true })).sort();
  return Promise.all(names.map(async (n) => `${n} ${(await stat(join(dir, n))).size} ${(await stat(join(dir, n))).mtimeMs}`));
}

async function lwin(...args: string[]): Promise<void> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerRun(program);
  registerTrain(program);
  registerDiagnose(program);
  await program.parseAsync(['node', 'lwin', ...args]);
}

const QUICK = resolveStudy('quick', {});

beforeAll(async () => {
  // A finished quick study, as `lwin run` leaves it (the files the refusal must keep).
  await mkdir(join(study, 'gru'), { recursive: true });
  await writeFile(join(study, 'study.json'), JSON.stringify({ config: QUICK, cells: [] }));
  await writeFile(join(study, 'study_config.json'), JSON.stringify(QUICK));
  await writeFile(join(study, 'H_N_summary.csv'), 'N,H_N_gru,contiguous_H_N_gru\n25,4,4\n');
  await writeFile(join(study, 'cli_args.csv'), 'argument,value\nepochs,8\n');
  await writeFile(join(study, 'gru', 'gru_cell.json'), '{}');
  // A finished training run, as `lwin train` leaves it.
  await mkdir(join(training, 'checkpoints', 'epoch-000750'), { recursive: true });
  await writeFile(join(training, 'checkpoints', 'latest.json'), '{"epoch":750,"folder":"epoch-000750"}');
  await writeFile(join(training, 'checkpoints', 'epoch-000750', 'trainer.json'), '{}');
  await writeFile(join(training, 'gru_learning_curve.csv'), 'epoch\n1\n');
  // Weights for diagnose, and the study's trained weights.
  const layout = buildLayout({ cell: 'gru', inputSize: 8, hiddenSize: 32, layernorm: true });
  await writeFile(weights, writeSafetensors(layout, Float32Array.from(initParams(layout, { seed: 1 }))));
  await writeFile(join(study, 'gru', 'gru.safetensors'), await readFile(weights));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a non-empty --out is refused, and left as it was', () => {
  it.each([
    ['lwin run over a finished study with another seed', ['run', '--seed', '5', '--out', study], study,
      ['already holds a finished study (cells gru; seed 212, 8 epochs); `lwin run` wrote nothing', '--resume', '--force', 'another --out']],
    ['lwin train over a finished training run', ['train', '--epochs', '3', '--out', training], training,
      ['already holds a training run (cell gru, checkpoint at epoch 750); `lwin train` wrote nothing', '--resume', '--force', 'another --out']],
    ['lwin diagnose into a study', ['diagnose', '--weights', weights, '--out', study], study,
      ['already holds a finished study (cells gru; seed 212, 8 epochs); `lwin diagnose` wrote nothing. (`lwin diagnose` has no --resume.)', '--force']],
    ['lwin diagnose --force into the study its weights come from', ['diagnose', '--weights', join(study, 'gru', 'gru.safetensors'), '--out', study, '--force'], study,
      [`--force would delete ${join(study, 'gru')}, which holds the input ${join(study, 'gru', 'gru.safetensors')}`]],
  ])('%s', async (_name, args, dir, messages) => {
    const before = await snapshot(dir);
    const refused = lwin(...args);
    for (const message of messages) await expect(refused).rejects.toThrow(message);
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('lwin run --resume with settings other than the study\'s', () => {
  it('is refused with each differing setting, folder → now; nothing is written', async () => {
    const before = await snapshot(study);
    const refused = lwin('run', '--resume', '--epochs', '12', '--seed', '5', '--out', study);
    await expect(refused).rejects.toThrow(`${study} holds a study with other settings (${join(study, 'study.json')}); nothing was run or overwritten. Settings that differ (folder → now):\n  epochs: 8 → 12\n  seed: 212 → 5\n`);
    await expect(refused).rejects.toThrow(`\`lwin run --resume --config ${join(study, 'study_config.json')} --out ${study}\``);
    expect(await snapshot(study)).toEqual(before);
    expect(await readFile(join(study, 'cli_args.csv'), 'utf8')).toBe('argument,value\nepochs,8\n');
  });
});

describe('lwin train flags', () => {
  const flags = (extra: Partial<TrainFlags>): TrainFlags => ({ cell: 'gru', trainSequences: 8000, ...extra });
  it('--checkpoint-every sets the checkpoint interval (default: the paper\'s 25)', async () => {
    expect((await trainConfigFromFlags(flags({}))).checkpointEvery).toBe(25);
    expect((await trainConfigFromFlags(flags({ checkpointEvery: 5 }))).checkpointEvery).toBe(5);
  });
  it('--resume needs --out (the default folder is new every time)', async () => {
    await expect(lwin('train', '--resume', '--epochs', '1')).rejects.toThrow('--resume needs --out: the folder of the training run to continue');
  });
  it('a bad --checkpoint-every is named', async () => {
    await expect(lwin('train', '--checkpoint-every', '0', '--out', join(root, 'never'))).rejects.toThrow(/checkpointEvery/);
  });
});
