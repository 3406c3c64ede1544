// The study's storages: the in-memory folder of the browser page and Node's atomic files answer alike.
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinPath, memoryStorage, readJson, readText, type Storage } from '../../src/io/storage.ts';
import { nodeStorage } from '../../src/io/node-storage.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lwin-storage-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const storages: [string, () => { storage: Storage; root: string }][] = [
  ['memory', () => ({ storage: memoryStorage(), root: 'study' })],
  ['node', () => ({ storage: nodeStorage(), root: dir })],
];

describe.each(storages)('%s storage', (_name, make) => {
  it('reads back what it wrote (text and bytes), under folders it creates, and undefined for a missing file', async () => {
    const { storage, root } = make();
    const text = joinPath(root, 'a', 'b', 'x.csv');
    const bytes = joinPath(root, 'w.bin');
    await storage.write(text, 'ell,mu\n1,0.5\n');
    await storage.write(bytes, new Uint8Array([0, 255, 7]));
    expect(await readText(storage, text)).toBe('ell,mu\n1,0.5\n');
    expect([...(await storage.read(bytes))!]).toEqual([0, 255, 7]);
    expect(await storage.read(joinPath(root, 'a', 'missing.csv'))).toBeUndefined();
    expect(await storage.read(joinPath(root, 'w.bin', 'below-a-file.csv'))).toBeUndefined();
    await storage.write(text, 'replaced\n');
    expect(await readText(storage, text)).toBe('replaced\n');
  });

  it('refuses a JSON file that does not parse, naming it and the advice', async () => {
    const { storage, root } = make();
    const file = joinPath(root, 'bad.json');
    await storage.write(file, '{"epochs": ');
    await expect(readJson(storage, file, 'remove it')).rejects.toThrow(new RegExp(`^${file} is not valid JSON \\(.+\\), remove it$`));
    expect(await readJson(storage, joinPath(root, 'none.json'), 'remove it')).toBeUndefined();
  });
});

describe('node storage', () => {
  it('leaves no temporary file beside what it wrote', async () => {
    const folder = join(dir, 'atomic');
    await nodeStorage().write(join(folder, 'H_N_summary.csv'), 'N,H_N_gru\n');
    expect(await readdir(folder)).toEqual(['H_N_summary.csv']);
  });

  it('a read that fails for another reason than a missing file is an error naming the path', async () => {
    const folder = join(dir, 'is-a-folder');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'inside'), 'x');
    await expect(nodeStorage().read(folder)).rejects.toThrow(`cannot read ${folder}:`);
    expect(await readFile(join(folder, 'inside'), 'utf8')).toBe('x');
  });
});

describe('memory storage', () => {
  it('keeps its own copy: changing the written or the read bytes changes nothing stored', async () => {
    const storage = memoryStorage();
    const data = new Uint8Array([1, 2, 3]);
    await storage.write('f', data);
    data[0] = 9;
    (await storage.read('f'))![1] = 9;
    expect([...(await storage.read('f'))!]).toEqual([1, 2, 3]);
    expect([...storage.files.keys()]).toEqual(['f']);
  });
});
