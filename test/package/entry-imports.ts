// What a package entry pulls in: every source file it reaches through relative imports, and the package specifiers
// (npm packages, node: builtins) those files import. The package tests use it to keep `lwin/stats` free of the GPU
// and of Node, and the browser entry free of the Node-only modules.
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

export interface EntryImports {
  /** Source files reached, relative to `root`. */
  files: string[];
  /** Non-relative specifiers (packages and builtins), each with the first file that imports it. */
  packages: Map<string, string>;
}

export function entryImports(root: string, entry: string): EntryImports {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    // Comments may quote imports; strip them so only code counts.
    const code = readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const [, spec] of code.matchAll(SPECIFIER)) {
      if (spec!.startsWith('.')) {
        if (spec!.endsWith('.ts')) visit(relative(root, normalize(join(root, dirname(file), spec!))));
      } else if (!packages.has(spec!)) packages.set(spec!, file);
    }
  };
  visit(entry);
  return { files: [...files].sort(), packages };
}
