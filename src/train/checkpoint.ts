// Checkpoints: parameters, optimizer state, shuffling RNG, epoch and curves so far. Each checkpoint is a folder
// written in full first; then `latest.json` is replaced atomically to point at it, so an interrupted write leaves
// the previous checkpoint in force. Optimizer tensors are stored per parameter as `<state>.<param>` (e.g.
// `exp_avg_sq.Wh.weight`), the names a PyTorch optimizer state can be exported to.
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { ParamLayout } from '../model/params.ts';
import { LWIN_VERSION, readSafetensors, writeSafetensors } from '../io/safetensors.ts';
import { readOptimizerStateFile, writeOptimizerStateFile } from './optimizer-file.ts';
import type { OptimizerState } from './optim/index.ts';
import type { CurveRow, GateRow } from './curves.ts';

export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** The shuffling RNG's state after `epoch` epochs. */
  shuffleRng: number[];
  curve: CurveRow[];
  gates: GateRow[];
  /** The configuration the run was started with, to refuse resuming a different run. */
  fingerprint: string;
}

export interface Checkpoint {
  params: Float32Array;
  optimizer: OptimizerState;
  state: TrainerState;
}

const LATEST = 'latest.json';

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function folderName(epoch: number): string {
  return `epoch-${String(epoch).padStart(6, '0')}`;
}

export async function saveCheckpoint(dir: string, layout: ParamLayout, checkpoint: Checkpoint): Promise<string> {
  const root = join(dir, 'checkpoints');
  const folder = join(root, folderName(checkpoint.state.epoch));
  await mkdir(folder, { recursive: true });
  const meta = { lwin_version: LWIN_VERSION, epoch: String(checkpoint.state.epoch) };
  await writeFileAtomic(join(folder, 'params.safetensors'), asBuffer(writeSafetensors(layout, checkpoint.params, { metadata: meta })));
  await writeFileAtomic(join(folder, 'optimizer.safetensors'), asBuffer(writeOptimizerStateFile(layout, checkpoint.optimizer, meta)));
  await writeFileAtomic(join(folder, 'trainer.json'), `${JSON.stringify(checkpoint.state, null, 1)}\n`);
  await writeFileAtomic(join(root, LATEST), `${JSON.stringify({ epoch: checkpoint.state.epoch, folder: folderName(checkpoint.state.epoch) })}\n`);
  // Older checkpoints are no longer needed once the new one is in force.
  for (const name of await readdir(root)) {
    if (name.startsWith('epoch-') && name !== folderName(checkpoint.state.epoch)) await rm(join(root, name), { recursive: true, force: true });
  }
  return folder;
}

/** The checkpoint in force under `dir`, or undefined when there is none. */
export async function loadCheckpoint(dir: string, layout: ParamLayout): Promise<Checkpoint | undefined> {
  const root = join(dir, 'checkpoints');
  let latest: { folder: string };
  try {
    latest = JSON.parse(await readFile(join(root, LATEST), 'utf8'));
  } catch {
    return undefined;
  }
  const folder = join(root, latest.folder);
  const state = JSON.parse(await readFile(join(folder, 'trainer.json'), 'utf8')) as TrainerState;
  const paramsFile = join(folder, 'params.safetensors');
  const model = readSafetensors(await readFile(paramsFile), { layout, source: paramsFile });
  const optimizerFile = join(folder, 'optimizer.safetensors');
  let optimizer;
  try {
    optimizer = readOptimizerStateFile(layout, await readFile(optimizerFile), optimizerFile).state;
  } catch (error) {
    throw new Error(`${(error as Error).message}; the checkpoint is damaged, delete ${root} to start over`, { cause: error });
  }
  return { params: Float32Array.from(model.params), optimizer, state };
}
