// Checkpoints: parameters, optimizer state, shuffling RNG, epoch and curves so far. Each checkpoint is a folder
// written in full first; then `latest.json` is replaced atomically to point at it, so an interrupted write leaves
// the previous checkpoint in force. Optimizer tensors are stored per parameter as `<state>.<param>` (e.g.
// `exp_avg_sq.Wh.weight`), the names a PyTorch optimizer state can be exported to.
import { access, mkdir, readFile, readdir, rm } from 'node:fs/promises';
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

/** Where a warning about a damaged checkpoint goes (the command line prints it). */
export type Warn = (message: string) => void;

const warnOnConsole: Warn = (message) => console.warn(`lwin: warning: ${message}`);

/** The newest complete checkpoint folder under `root` (trainer.json is written last), if any. */
async function newestCompleteFolder(root: string): Promise<string | undefined> {
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => /^epoch-\d+$/.test(n)).sort().reverse();
  for (const name of names) if (await access(join(root, name, 'trainer.json')).then(() => true, () => false)) return name;
  return undefined;
}

/**
 * The folder `latest.json` names. A damaged latest.json is not dropped silently: the warning names it, and the newest
 * complete checkpoint folder beside it is used instead (training starts over only when there is none).
 */
async function latestFolder(root: string, warn: Warn): Promise<string | undefined> {
  const latestPath = join(root, LATEST);
  let text: string;
  try {
    text = await readFile(latestPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the checkpoint pointer ${latestPath}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const latest = JSON.parse(text) as { folder?: unknown };
    if (typeof latest?.folder !== 'string' || !/^epoch-\d+$/.test(latest.folder)) throw new Error('it has no "folder" naming an epoch-NNNNNN folder');
    return latest.folder;
  } catch (error) {
    const fallback = await newestCompleteFolder(root);
    const reason = error instanceof SyntaxError ? `it is not valid JSON (${error.message})` : (error as Error).message;
    warn(`the checkpoint pointer ${latestPath} is damaged: ${reason}; ` +
      (fallback ? `resuming from ${join(root, fallback)}, the newest complete checkpoint beside it` : 'no complete checkpoint folder lies beside it, so training starts from epoch 0'));
    return fallback;
  }
}

/** The checkpoint in force under `dir`, or undefined when there is none. */
export async function loadCheckpoint(dir: string, layout: ParamLayout, warn: Warn = warnOnConsole): Promise<Checkpoint | undefined> {
  const root = join(dir, 'checkpoints');
  const name = await latestFolder(root, warn);
  if (name === undefined) return undefined;
  const folder = join(root, name);
  const startOver = `delete ${root} to start over`;
  if (!(await access(join(folder, 'trainer.json')).then(() => true, () => false))) {
    const other = await newestCompleteFolder(root);
    throw new Error(`${join(root, LATEST)} points to the checkpoint ${folder}, which is ${await access(folder).then(() => 'incomplete (no trainer.json)', () => 'missing')}` +
      `${other ? ` (${join(root, other)} is there)` : ''}; restore that folder, or ${startOver}`);
  }
  try {
    const state = JSON.parse(await readFile(join(folder, 'trainer.json'), 'utf8')) as TrainerState;
    const paramsFile = join(folder, 'params.safetensors');
    const model = readSafetensors(await readFile(paramsFile), { layout, source: paramsFile });
    const optimizerFile = join(folder, 'optimizer.safetensors');
    const optimizer = readOptimizerStateFile(layout, await readFile(optimizerFile), optimizerFile).state;
    return { params: Float32Array.from(model.params), optimizer, state };
  } catch (error) {
    throw new Error(`${(error as Error).message}; the checkpoint ${folder} is damaged: ${startOver}`, { cause: error });
  }
}
