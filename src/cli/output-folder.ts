// The output folder of a command (`--out`), claimed before any work: lwin never writes silently over what a folder
// already holds. A new or empty folder is used as it is; a folder with contents is refused, with what it holds and
// the three ways on: continue it (`--resume`, where the command can, with its settings checked against the
// folder's), replace it (`--force`: lwin's earlier outputs there are deleted first), or write elsewhere. Without
// `--out`, every command writes to a new timestamped folder under lwin-out/.
import { access, constants, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { CELL_KINDS } from '../model/cells.ts';
import { OptimizerSchema } from '../train/config.ts';
import { writingTo } from '../io/output-path.ts';
import { cellFileNames, STUDY_FILES } from '../io/study-files.ts';

export type CommandName = 'run' | 'train' | 'diagnose' | 'sweep';

/** `lwin-out/<command>-<UTC timestamp>`: a new folder for each run of a command. */
export function newOutputFolder(command: CommandName, now = new Date()): string {
  return join('lwin-out', `${command}-${now.toISOString().replace(/[:.]/g, '-')}`);
}

export type FolderKind = 'missing' | 'file' | 'empty' | 'study' | 'unfinished-study' | 'diagnosis' | 'training' | 'sweep' | 'other';

export interface FolderContents {
  kind: FolderKind;
  /** What it holds, for a person: `a finished study (cells const, gru; seed 212, 8 epochs)`. */
  summary: string;
  /** The names at its top level. */
  entries: string[];
}

const OPTIMIZERS = OptimizerSchema.shape.name.options as readonly string[];
const isCell = (name: string) => (CELL_KINDS as readonly string[]).includes(name);
const SWEEP_ENTRY = /^seed_\d+$/;
const CURVE_FILE = /^(.+)_learning_curve\.csv$/;

/** The names lwin writes at the top of an output folder: what `--force` deletes (nothing else). */
export function isLwinEntry(name: string): boolean {
  return [...Object.values(STUDY_FILES), 'sweep_jobs.txt', 'slurm', 'checkpoints', 'aggregate'].includes(name) ||
    isCell(name) || OPTIMIZERS.includes(name) || SWEEP_ENTRY.test(name) || CURVE_FILE.test(name) || /^gate_stats_.+\.csv$/.test(name);
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const exists = (path: string) => access(path).then(() => true, () => false);
const listed = (names: string[], max = 4) => `${names.slice(0, max).join(', ')}${names.length > max ? `, … (${names.length} in all)` : ''}`;

/** What `dir` holds, told from the files lwin's commands write there. */
export async function inspectFolder(dir: string): Promise<FolderContents> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) return { kind: 'missing', summary: 'nothing (it does not exist yet)', entries: [] };
  if (!info.isDirectory()) return { kind: 'file', summary: 'a file', entries: [] };
  const entries = (await readdir(dir)).sort();
  if (entries.length === 0) return { kind: 'empty', summary: 'nothing', entries };
  const study = await readJson(join(dir, STUDY_FILES.studyJson));
  const config = study?.config as { cells?: string[]; seed?: number; epochs?: number } | undefined;
  if (study && typeof study.weights === 'string') {
    return { kind: 'diagnosis', summary: `a diagnosis of ${study.weights} (cells ${config?.cells?.join(', ') ?? '?'})`, entries };
  }
  if (config?.cells) {
    const cells = entries.filter(isCell);
    return { kind: 'study', summary: `a finished study (cells ${cells.join(', ') || config.cells.join(', ')}; seed ${config.seed}, ${config.epochs} epochs)`, entries };
  }
  const cellDirs = entries.filter(isCell);
  if (cellDirs.length || entries.includes(STUDY_FILES.studyConfig)) {
    const finished: string[] = [];
    for (const cell of cellDirs) if (await exists(join(dir, cell, cellFileNames(cell).record))) finished.push(cell);
    const started = cellDirs.filter((c) => !finished.includes(c));
    const parts = [finished.length && `finished: ${finished.join(', ')}`, started.length && `started: ${started.join(', ')}`].filter(Boolean);
    return { kind: 'unfinished-study', summary: `an unfinished study (${parts.join('; ') || 'planned, not started'})`, entries };
  }
  const curves = entries.map((e) => CURVE_FILE.exec(e)?.[1]).filter((c): c is string => c !== undefined);
  if (curves.length || entries.includes('checkpoints')) {
    const latest = await readJson(join(dir, 'checkpoints', 'latest.json'));
    const at = typeof latest?.epoch === 'number' ? `, checkpoint at epoch ${latest.epoch}` : '';
    return { kind: 'training', summary: `a training run (${curves.length ? `cell ${curves.join(', ')}` : 'checkpoints'}${at})`, entries };
  }
  // One optimizer: <out>/seed_<S>/; several: <out>/<optimizer>/seed_<S>/.
  const seeds = entries.filter((e) => SWEEP_ENTRY.test(e) || OPTIMIZERS.includes(e));
  if (seeds.length || entries.includes('sweep_jobs.txt')) return { kind: 'sweep', summary: `a sweep (${listed(seeds.length ? seeds : entries)})`, entries };
  return { kind: 'other', summary: `${entries.length === 1 ? '1 entry' : `${entries.length} entries`}: ${listed(entries)}`, entries };
}

export interface ClaimOptions {
  command: CommandName;
  /** The folder was given with --out (not the default). */
  given: boolean;
  resume?: boolean;
  force?: boolean;
  /** What `--resume` continues; undefined: the command cannot resume. */
  resumes?: readonly FolderKind[];
  /** The command always continues what its folder holds (a sweep): only these kinds are accepted, no flag needed. */
  continues?: readonly FolderKind[];
  /** Files the command reads: `--force` refuses to delete an entry holding one of them. */
  inputs?: readonly (string | undefined)[];
  log?: (line: string) => void;
}

const inside = (file: string, entry: string) => {
  const rel = relative(resolve(entry), resolve(file));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/**
 * Makes `dir` ready for `command` or refuses, naming what it holds and the ways on; with `force`, deletes the lwin
 * outputs it holds first (files lwin does not write stay). Returns what the folder held.
 */
export async function claimOutputFolder(dir: string, options: ClaimOptions): Promise<FolderContents> {
  const contents = await inspectFolder(dir);
  if (contents.kind === 'file') throw new Error(`--out ${dir} is a file, not a folder. Give --out a folder path (lwin creates it), or move the file away.`);
  if (options.resume && options.force) throw new Error('--resume and --force contradict each other: --resume continues what the folder holds, --force deletes it. Give one.');
  if (contents.kind !== 'missing' && contents.kind !== 'empty') {
    if (options.continues) {
      if (!options.continues.includes(contents.kind)) {
        throw new Error(`--out ${dir} holds ${contents.summary}, not a ${options.command}; \`lwin ${options.command}\` wrote nothing. ` +
          `It continues only a folder of its own kind: choose another --out${options.given ? ', or leave --out out for a new timestamped folder under lwin-out/' : ''}.`);
      }
    } else if (options.resume && options.resumes) {
      if (!options.resumes.includes(contents.kind)) {
        throw new Error(`--resume: --out ${dir} holds ${contents.summary}, which \`lwin ${options.command}\` cannot continue; nothing was written. Give the folder of a ${options.command === 'train' ? 'training run' : 'study'}, or leave out --resume and choose another --out.`);
      }
    } else if (options.force) {
      await clearLwinOutputs(dir, contents, options);
    } else {
      throw new Error(refusal(dir, contents, options));
    }
  }
  await writingTo(dir, async () => {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  });
  return contents;
}

function refusal(dir: string, contents: FolderContents, options: ClaimOptions): string {
  const ways = [
    ...(options.resumes ? [`continue it: rerun the same command with --resume (settings that differ from the folder's are refused)`] : []),
    `replace it: add --force (deletes the lwin outputs there first: ${listed(contents.entries.filter(isLwinEntry)) || 'none'}; other files stay)`,
    `keep it: choose another --out${options.given ? ', or leave --out out for a new timestamped folder under lwin-out/' : ''}`,
  ];
  return `--out ${dir} already holds ${contents.summary}; \`lwin ${options.command}\` wrote nothing. ${options.resumes ? '' : `(\`lwin ${options.command}\` has no --resume.) `}Either\n` +
    ways.map((w) => `  ${w}`).join('\n');
}

async function clearLwinOutputs(dir: string, contents: FolderContents, options: ClaimOptions): Promise<void> {
  const doomed = contents.entries.filter(isLwinEntry).map((e) => join(dir, e));
  for (const input of options.inputs ?? []) {
    const holder = input === undefined ? undefined : doomed.find((entry) => inside(input, entry));
    if (holder !== undefined) {
      throw new Error(`--force would delete ${holder}, which holds the input ${input}; nothing was deleted. Move that file out of --out ${dir} first, or choose another --out.`);
    }
  }
  await writingTo(dir, async () => {
    for (const entry of doomed) await rm(entry, { recursive: true, force: true });
  });
  const kept = contents.entries.length - doomed.length;
  options.log?.(`--force: deleted ${contents.summary} in ${dir} (${listed(doomed.map((d) => relative(dir, d)))})${kept ? `; ${kept === 1 ? '1 other entry' : `${kept} other entries`} kept` : ''}`);
}
