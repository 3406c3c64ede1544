// The layers above the engine stay one-way: the study pipeline writes through a storage and may write the report,
// the report reads the study's files through src/io, and the command line sits on top; no import runs back up.
// (The engine's folders below are checked by `npx tsx test/support/import-cycles.ts`, which lists every cycle.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, folderGraph, folderOf, importGraph, REPO } from '../support/import-cycles.ts';

const graph = importGraph();
const UPPER = ['src/study', 'src/report', 'src/cli'];

describe('imports of the upper layers', () => {
  it('no folder cycle holds the study, the report or the command line', () => {
    const tangled = cycles(folderGraph(graph)).filter((c) => c.some((f) => UPPER.includes(f)));
    expect(tangled).toEqual([]);
  });

  it('no module cycle passes through them or through src/io', () => {
    const tangled = cycles(graph).filter((c) => c.some((m) => [...UPPER, 'src/io'].includes(folderOf(m))));
    expect(tangled).toEqual([]);
  });

  it.each([
    ['src/report', ['src/study', 'src/cli']],
    ['src/io', ['src/study', 'src/report', 'src/cli', 'src/train']],
  ])('%s imports nothing of %j', (folder, above) => {
    const offending = [...graph].flatMap(([m, targets]) => (folderOf(m) === folder ? targets.filter((t) => above.includes(folderOf(t))).map((t) => `${m} → ${t}`) : []));
    expect(offending).toEqual([]);
  });

  it.each(['src/io/storage.ts', 'src/io/study-files.ts'])('%s imports no other module', (module) => {
    expect(graph.get(module)).toEqual([]);
  });

  it('the study pipeline imports no Node built-in (the browser page runs it)', () => {
    const text = readFileSync(join(REPO, 'src/study/pipeline.ts'), 'utf8');
    expect(text.match(/from ['"]node:[^'"]+['"]/g) ?? []).toEqual([]);
  });
});

describe('the cycle finder', () => {
  it.each([
    ['a chain', { a: ['b'], b: ['c'], c: [] }, []],
    ['two modules', { a: ['b'], b: ['a'] }, [['a', 'b']]],
    ['a ring of three and a tail', { a: ['b'], b: ['c'], c: ['a', 'd'], d: [] }, [['a', 'b', 'c']]],
  ])('%s', (_name, edges, expected) => {
    expect(cycles(new Map(Object.entries(edges)))).toEqual(expected);
  });
});
