// Checkpoint folders on disk (src/train/checkpoint.ts), without a GPU: a damaged `latest.json` is named in a warning
// and the newest complete checkpoint beside it is used; a pointer to a missing folder is an error that names both.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLayout } from '../../src/model/index.ts';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/train/checkpoint.ts';

const layout = buildLayout({ cell: 'diag', inputSize: 2, hiddenSize: 4, layernorm: false });
const checkpoint = (epoch: number): Checkpoint => ({
  params: Float32Array.from({ length: layout.totalSize }, (_, i) => i / 10 + epoch),
  optimizer: { step: epoch * 3, tensors: { exp_avg: new Float32Array(layout.trainableSize).fill(epoch), exp_avg_sq: new Float32Array(layout.trainableSize) } },
  state: { epoch, shuffleRng: [1, 2, 3, 4], curve: [], gates: [], fingerprint: '{}' },
});

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lwin-checkpoint-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function saved(name: string, epoch = 20): Promise<string> {
  const dir = join(root, name);
  await saveCheckpoint(dir, layout, checkpoint(epoch));
  return dir;
}

describe('loadCheckpoint', () => {
  it('reads back what was saved, without a warning', async () => {
    const dir = await saved('intact');
    const warnings: string[] = [];
    const loaded = await loadCheckpoint(dir, layout, (w) => warnings.push(w));
    expect(loaded?.state.epoch).toBe(20);
    expect([loaded!.params.length, loaded!.optimizer.step, loaded!.optimizer.tensors.exp_avg![0]]).toEqual([layout.totalSize, 60, 20]);
    expect(warnings).toEqual([]);
  });

  it('no checkpoint: undefined, quietly', async () => {
    const warnings: string[] = [];
    await expect(loadCheckpoint(join(root, 'none'), layout, (w) => warnings.push(w))).resolves.toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it.each([
    ['not JSON', '{"epoch": 20, "fol', 'it is not valid JSON'],
    ['JSON without a folder', '{"epoch": 20}', 'it has no "folder" naming an epoch-NNNNNN folder'],
  ])('a latest.json that is %s: a warning naming it, then the newest complete checkpoint beside it', async (name, text, reason) => {
    const dir = await saved(`damaged-${name.replace(/ /g, '-')}`);
    const latest = join(dir, 'checkpoints', 'latest.json');
    await writeFile(latest, text);
    const warnings: string[] = [];
    const loaded = await loadCheckpoint(dir, layout, (w) => warnings.push(w));
    expect(loaded?.state.epoch).toBe(20);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the checkpoint pointer ${latest} is damaged: ${reason}`);
    expect(warnings[0]).toContain(`resuming from ${join(dir, 'checkpoints', 'epoch-000020')}, the newest complete checkpoint beside it`);
  });

  it('a damaged latest.json with no checkpoint beside it: a warning that training starts over', async () => {
    const dir = await saved('damaged-alone');
    await rm(join(dir, 'checkpoints', 'epoch-000020'), { recursive: true });
    await writeFile(join(dir, 'checkpoints', 'latest.json'), 'garbage');
    const warnings: string[] = [];
    await expect(loadCheckpoint(dir, layout, (w) => warnings.push(w))).resolves.toBeUndefined();
    expect(warnings[0]).toMatch(/latest\.json is damaged: it is not valid JSON .*; no complete checkpoint folder lies beside it, so training starts from epoch 0/);
  });

  it('a latest.json pointing to a missing folder: an error naming both and the way out, not a raw ENOENT', async () => {
    const dir = await saved('missing-folder');
    const root = join(dir, 'checkpoints');
    await rm(join(root, 'epoch-000020'), { recursive: true });
    await expect(loadCheckpoint(dir, layout)).rejects.toThrow(
      `${join(root, 'latest.json')} points to the checkpoint ${join(root, 'epoch-000020')}, which is missing; restore that folder, or delete ${root} to start over`,
    );
  });

  it('a damaged file inside the checkpoint: the error says the checkpoint is damaged and how to start over', async () => {
    const dir = await saved('damaged-trainer');
    await writeFile(join(dir, 'checkpoints', 'epoch-000020', 'trainer.json'), '{ nope');
    await expect(loadCheckpoint(dir, layout)).rejects.toThrow(`the checkpoint ${join(dir, 'checkpoints', 'epoch-000020')} is damaged: delete ${join(dir, 'checkpoints')} to start over`);
  });
});
