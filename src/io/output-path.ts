// Failures of the paths a user asked lwin to write to (`--out`), said in terms of that path: what is wrong with it
// and what to do, instead of a raw ENOENT/EISDIR/EROFS naming a temporary file (write-file-atomic writes
// `<file>.<hash>` beside the target and renames it).
import { access, constants, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

interface ErrnoLike {
  code?: string;
  path?: string;
  dest?: string;
}

/**
 * True when `p` is `target`, inside it, a temporary file write-file-atomic makes beside it, or a folder above it
 * (creating `target` creates its missing parents).
 */
function touches(p: string | undefined, target: string): boolean {
  if (p === undefined) return false;
  const [abs, goal] = [resolve(p), resolve(target)];
  return abs === goal || abs.startsWith(goal + sep) || goal.startsWith(abs + sep) || new RegExp(`^${escapeRegExp(goal)}\\.\\d+$`).test(abs);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The first part of `path` (itself or a parent) that exists and is a file, where a folder was needed. */
async function fileInTheWay(path: string): Promise<string | undefined> {
  for (let p = resolve(path); ; p = dirname(p)) {
    const isFile = await stat(p).then((s) => !s.isDirectory(), () => false);
    if (isFile) return p;
    if (dirname(p) === p) return undefined;
  }
}

/**
 * Why the nearest existing folder of `path` refuses writes (EROFS, EACCES, …), if it does: Node's recursive mkdir
 * reports ENOENT where the real cause is a read-only parent.
 */
async function parentRefusal(path: string): Promise<string | undefined> {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    if (await stat(p).then(() => true, () => false)) return access(p, constants.W_OK).then(() => undefined, (e: ErrnoLike) => e.code);
    if (dirname(p) === p) return undefined;
  }
}

/**
 * The error a person should see when writing under `path` (given as `flag`) failed with `error`; errors about
 * other paths (an input file) come back unchanged. `kind` says whether the user gave a folder or a file.
 */
export async function explainOutputError(error: unknown, path: string, flag = '--out', kind: 'folder' | 'file' = 'folder'): Promise<unknown> {
  const { code: raw, path: failed, dest } = (error ?? {}) as ErrnoLike;
  if (raw === undefined || !(touches(failed, path) || touches(dest, path))) return error;
  const code = raw === 'ENOENT' ? ((await parentRefusal(failed ?? path)) ?? raw) : raw;
  const given = `${flag} ${path}`;
  const elsewhere = flag.startsWith('--') ? `give ${flag} another ${kind}` : `choose another place with --out`;
  const why = (text: string) => new Error(text, { cause: error });
  switch (code) {
    case 'EROFS':
      return why(`cannot write to ${given}: it lies on a read-only file system (EROFS); ${elsewhere}, on a writable disk.`);
    case 'EACCES':
    case 'EPERM':
      return why(`cannot write to ${given}: permission denied (${code}); change its permissions, or ${elsewhere} that you can write to.`);
    case 'ENOSPC':
    case 'EDQUOT':
      return why(`cannot write to ${given}: no space left there (${code}); free some space, or ${elsewhere}.`);
    case 'EISDIR':
      return why(kind === 'file'
        ? `${given} is a folder, but it must name the file to write; give a file name, e.g. ${flag.startsWith('--') ? flag : '--out'} ${join(path, 'report.html')}`
        : `cannot write to ${given}: a folder stands where lwin writes a file (EISDIR); remove it, or ${elsewhere}.`);
    case 'EEXIST':
    case 'ENOTDIR': {
      const culprit = await fileInTheWay(kind === 'file' ? dirname(path) : path);
      if (culprit === undefined) break;
      const what = culprit === resolve(path) ? `${given} is a file, not a folder` : `${given} cannot be created: ${culprit} is a file, not a folder`;
      return why(`${what}; ${kind === 'folder' ? `give ${flag} a folder path (lwin creates it)` : elsewhere}, or move the file away.`);
    }
    case 'ENOENT':
      return why(kind === 'file'
        ? `cannot write to ${given}: the folder ${dirname(path)} does not exist; create it, or ${elsewhere}.`
        : `cannot write to ${given}: a folder in it disappeared while lwin was writing (ENOENT); rerun with a folder that stays in place.`);
  }
  // Anything else: the system's words, without the temporary file's name.
  return why(`cannot write to ${given}: ${(error as Error).message.replace(/\S*\.\d{6,}'?/g, '').replace(/\s+/g, ' ').trim()}`);
}

/** Runs `write`, turning a failure to write under `path` into a message about `path` (see explainOutputError). */
export async function writingTo<T>(path: string, write: () => Promise<T>, flag = '--out', kind: 'folder' | 'file' = 'folder'): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw await explainOutputError(error, path, flag, kind);
  }
}
