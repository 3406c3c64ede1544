// Where a study's files go: the whole-file reads and writes the study pipeline needs, so one pipeline serves every
// runtime: Node and Deno write a folder on disk (node-storage.ts, atomically), the browser page an in-memory folder.
// Paths are joined with '/', which every runtime accepts (Node on Windows included).

export interface Storage {
  /** The file's bytes, or undefined when there is no such file. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Replaces the whole file (atomically where the medium allows), creating the folders above it. */
  write(path: string, data: Uint8Array | string): Promise<void>;
}

export const joinPath = (...parts: string[]): string => parts.filter((p) => p !== '').join('/');

/** The file as UTF-8 text, or undefined when there is no such file. */
export async function readText(storage: Storage, path: string): Promise<string | undefined> {
  const bytes = await storage.read(path);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** A JSON file's value, undefined when absent; a file that does not parse is refused with `advice`. */
export async function readJson(storage: Storage, path: string, advice: string): Promise<unknown> {
  const text = await readText(storage, path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}), ${advice}`);
  }
}

/** Files kept in a Map (the browser page, tests); `files` holds what was written, by path. */
export function memoryStorage(): Storage & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    async read(path) {
      const bytes = files.get(path);
      return bytes === undefined ? undefined : bytes.slice();
    },
    async write(path, data) {
      files.set(path, typeof data === 'string' ? new TextEncoder().encode(data) : data.slice());
    },
  };
}
