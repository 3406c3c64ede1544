// The study's storage on a file system (Node, and Deno through its Node compatibility): every write goes through
// write-file-atomic (a temporary file beside the target, then a rename), so an interrupted run leaves each file
// either as it was or complete.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import writeFileAtomic from 'write-file-atomic';
import type { Storage } from './storage.ts';

export function nodeStorage(): Storage {
  return {
    async read(path) {
      try {
        return new Uint8Array(await readFile(path));
      } catch (error) {
        if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
        throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
      }
    },
    async write(path, data) {
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    },
  };
}

/**
 * The file of the recurrent kernels' autotuned tiles: `$LWIN_CACHE_DIR/tiles.json`, else the user's cache folder
 * (`$XDG_CACHE_HOME/lwin`, `~/.cache/lwin`).
 */
export function nodeTileCache(): { storage: Storage; path: string } {
  const dir = process.env.LWIN_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lwin');
  return { storage: nodeStorage(), path: join(dir, 'tiles.json') };
}
