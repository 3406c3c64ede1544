// The import graph of lwin's own modules, read from their import lines, and its cycles. A cycle is a strongly
// connected component of more than one node: between files (a imports b imports a), and between layers, where a
// layer is a folder right under src/ or shaders/ (src/model, shaders/recurrence; files directly in shaders/ are the
// layer `shaders`). Type-only imports count: they tie the layers together for a reader just the same.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

export type ImportGraph = ReadonlyMap<string, readonly string[]>;

// `from '…'` (import and re-export), side-effect `import '…'`, and `import('…')` in code or types; relative only,
// since packages are not lwin's layers.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(root: string, folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(root, path);
    return entry.name.endsWith('.ts') ? [path.split(sep).join('/')] : [];
  });
}

/** File → the files it imports, for every .ts file under `folders` of `root` (paths relative to root, with /). */
export function readImportGraph(root: string, folders: readonly string[]): ImportGraph {
  const files = folders.flatMap((folder) => sourceFiles(root, folder));
  const known = new Set(files);
  return new Map(files.map((file) => {
    const text = readFileSync(join(root, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => relative(root, normalize(join(root, dirname(file), m[1]!))).split(sep).join('/'));
    return [file, [...new Set(targets.filter((t) => known.has(t)))]];
  }));
}

/** The layer of a file: `src/<folder>` or `shaders/<folder>`, or the root folder for a file directly in it. */
export function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Layer → the other layers its files import. */
export function layerGraph(files: ImportGraph): ImportGraph {
  const layers = new Map<string, Set<string>>();
  for (const [file, targets] of files) {
    const from = layerOf(file);
    const edges = layers.get(from) ?? layers.set(from, new Set()).get(from)!;
    for (const target of targets) if (layerOf(target) !== from) edges.add(layerOf(target));
  }
  return new Map([...layers].map(([layer, edges]) => [layer, [...edges]]));
}

/** Strongly connected components with more than one node (Tarjan), each sorted, the list sorted by first node. */
export function cycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The imports that make up a cycle, `a → b` between its members (files, or layers with the files behind each arrow). */
export function cycleEdges(files: ImportGraph, members: readonly string[], byLayer: boolean): string[] {
  const inCycle = new Set(members);
  const key = byLayer ? layerOf : (f: string) => f;
  const lines: string[] = [];
  for (const [file, targets] of files) {
    for (const target of targets) {
      const [from, to] = [key(file), key(target)];
      if (from !== to && inCycle.has(from) && inCycle.has(to)) lines.push(byLayer ? `${from} → ${to} (${file} → ${target})` : `${from} → ${to}`);
    }
  }
  return lines.sort();
}
