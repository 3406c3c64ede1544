// No import cycles in src/ and shaders/, between files or between layers (a folder right under src/ or shaders/):
// data flows one way (STYLE.md habit 5), so an arrow that runs back up is a defect. On failure the message lists
// every cycle with the imports that make it up. Run alone: npx vitest run test/architecture
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycleEdges, cycles, layerGraph, layerOf, readImportGraph, type ImportGraph } from './import-graph.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FOLDERS = ['src', 'shaders'];

/** Layer cycles tolerated, each exactly as found (none now; an entry must go once its cycle is gone). */
const TOLERATED_LAYER_CYCLES: readonly (readonly string[])[] = [];

const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

describe('cycle finder', () => {
  it.each<{ name: string; edges: Record<string, string[]>; expected: string[][] }>([
    { name: 'a chain has none', edges: { a: ['b'], b: ['c'], c: [] }, expected: [] },
    { name: 'a pair', edges: { a: ['b'], b: ['a'] }, expected: [['a', 'b']] },
    { name: 'a loop through three, beside a tail', edges: { a: ['b'], b: ['c'], c: ['a', 'd'], d: [] }, expected: [['a', 'b', 'c']] },
    { name: 'two separate cycles', edges: { a: ['b'], b: ['a'], c: ['d'], d: ['c'] }, expected: [['a', 'b'], ['c', 'd']] },
  ])('$name', ({ edges, expected }) => {
    expect(cycles(graph(edges))).toEqual(expected);
  });

  it('groups files into layers by their first folder under src/ or shaders/', () => {
    const files = graph({
      'src/model/cells.ts': ['src/reference/cells/gru.ts'],
      'src/reference/cells/gru.ts': ['src/model/params.ts'],
      'src/model/params.ts': [],
      'shaders/loss.ts': ['shaders/cells/common.ts'],
      'shaders/cells/common.ts': [],
    });
    expect(cycles(files)).toEqual([]);
    expect(cycles(layerGraph(files))).toEqual([['src/model', 'src/reference']]);
  });

  it('reads import, re-export, side-effect and dynamic import lines of the real tree', () => {
    const files = readImportGraph(ROOT, FOLDERS);
    expect(files.get('src/gpu/step.ts')).toContain('src/gpu/program.ts');
    expect(files.size).toBeGreaterThan(100);
  });
});

describe('src/ and shaders/', () => {
  const files = readImportGraph(ROOT, FOLDERS);

  it('have no cycle between files', () => {
    const found = cycles(files).map((c) => cycleEdges(files, c, false).join('\n  '));
    expect(found, `import cycles between files:\n  ${found.join('\n\n  ')}`).toEqual([]);
  });

  it('have no cycle between layers but the tolerated ones', () => {
    const found = cycles(layerGraph(files));
    const tolerated = new Set(TOLERATED_LAYER_CYCLES.map((c) => c.join(' ↔ ')));
    const untolerated = found.filter((c) => !tolerated.has(c.join(' ↔ '))).map((c) => `${c.join(' ↔ ')}:\n    ${cycleEdges(files, c, true).join('\n    ')}`);
    expect(untolerated, `import cycles between layers:\n  ${untolerated.join('\n  ')}`).toEqual([]);
  });

  it('still have every tolerated layer cycle (drop the entry once its cycle is gone)', () => {
    const found = new Set(cycles(layerGraph(files)).map((c) => c.join(' ↔ ')));
    const gone = TOLERATED_LAYER_CYCLES.map((c) => c.join(' ↔ ')).filter((c) => !found.has(c));
    expect(gone, 'tolerated cycles that no longer exist: remove them from TOLERATED_LAYER_CYCLES').toEqual([]);
  });
});

// The layers above the engine stay one-way: the study pipeline writes through a storage, the report reads the study's
// files through src/io, and the command line sits on top.
describe('the upper layers', () => {
  const files = readImportGraph(ROOT, FOLDERS);

  it.each([
    ['src/report', ['src/study', 'src/cli']],
    ['src/io', ['src/study', 'src/report', 'src/cli', 'src/train']],
  ])('%s imports nothing of %j', (layer, above) => {
    const offending = [...files].flatMap(([m, targets]) => (layerOf(m) === layer ? targets.filter((t) => above.includes(layerOf(t))).map((t) => `${m} → ${t}`) : []));
    expect(offending).toEqual([]);
  });

  it.each(['src/io/storage.ts', 'src/io/study-files.ts'])('%s imports no other module', (module) => {
    expect(files.get(module)).toEqual([]);
  });

  it('the study pipeline imports no Node built-in (the browser page runs it)', () => {
    const text = readFileSync(join(ROOT, 'src/study/pipeline.ts'), 'utf8');
    expect(text.match(/from ['"]node:[^'"]+['"]/g) ?? []).toEqual([]);
  });
});
