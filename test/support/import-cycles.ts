// The import graph of src/ and shaders/ (relative imports of .ts modules, type-only ones included) and its cycles,
// per module and per folder (src/<folder>, shaders). Run it to list them:
//   npx tsx test/support/import-cycles.ts
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** module (repository-relative path) → the modules it imports. */
export type ImportGraph = Map<string, string[]>;

const IMPORT = /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

export function importGraph(root = REPO, folders = ['src', 'shaders']): ImportGraph {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const folder of folders) walk(join(root, folder));
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const targets = [...readFileSync(file, 'utf8').matchAll(IMPORT)]
      .map((m) => m[1] ?? m[2] ?? m[3]!)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolve(dirname(file), spec))
      .filter((target) => known.has(target));
    graph.set(relative(root, file), [...new Set(targets.map((t) => relative(root, t)))]);
  }
  return graph;
}

/** `src/study/run.ts` → `src/study`; `shaders/x/y.ts` → `shaders`. */
export function folderOf(module: string): string {
  const parts = module.split('/');
  return parts[0] === 'src' && parts.length > 2 ? `src/${parts[1]}` : parts[0]!;
}

/** The graph of folders: an edge where a module of one imports a module of another. */
export function folderGraph(graph: ImportGraph): ImportGraph {
  const folders: ImportGraph = new Map();
  for (const [from, targets] of graph) {
    const edges = folders.get(folderOf(from)) ?? [];
    for (const to of targets) if (folderOf(to) !== folderOf(from) && !edges.includes(folderOf(to))) edges.push(folderOf(to));
    folders.set(folderOf(from), edges);
  }
  return folders;
}

/** The cycles of a graph: its strongly connected components of more than one node (Tarjan), each sorted. */
export function cycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** One import from a folder into another, to show why two folders depend on each other. */
export function witness(graph: ImportGraph, from: string, to: string): string | undefined {
  for (const [module, targets] of graph) {
    const target = folderOf(module) === from ? targets.find((t) => folderOf(t) === to) : undefined;
    if (target) return `${module} → ${target}`;
  }
  return undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const graph = importGraph();
  const modules = cycles(graph);
  const folders = folderGraph(graph);
  const folderCycles = cycles(folders);
  console.log(`${graph.size} modules in src/ and shaders/; module cycles: ${modules.length}`);
  for (const c of modules) console.log(`  ${c.join(' ↔ ')}`);
  console.log(`folder cycles: ${folderCycles.length}`);
  for (const c of folderCycles) {
    console.log(`  ${c.join(', ')}`);
    for (const a of c) for (const b of folders.get(a)!) if (c.includes(b)) console.log(`    ${witness(graph, a, b)}`);
  }
  process.exitCode = modules.length || folderCycles.length ? 1 : 0;
}
