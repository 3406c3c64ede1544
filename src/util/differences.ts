// Which settings two configurations differ in, for the refusals that keep two runs from being mixed: resuming a
// checkpoint or a study with other settings, and aggregating runs that differ in more than their seed.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Dotted paths where two JSON values differ (`optimizer.lr`, `cells`); a key missing on one side counts. */
export function differingPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => differingPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '(root)'];
}

/** The value at a dotted path (`optimizer.lr`), or undefined. */
export function valueAt(value: unknown, path: string): unknown {
  if (path === '(root)') return value;
  return path.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), value);
}

/** A setting's value as a person reads it: JSON, `(unset)` when absent. */
export function showValue(value: unknown): string {
  return value === undefined ? '(unset)' : JSON.stringify(value);
}

/** One line per differing setting, `path: old → new`, at most `limit` lines (then how many more). */
export function describeDifferences(before: unknown, after: unknown, limit = 12): string[] {
  const paths = differingPaths(before, after);
  const lines = paths.slice(0, limit).map((p) => `${p}: ${showValue(valueAt(before, p))} → ${showValue(valueAt(after, p))}`);
  if (paths.length > limit) lines.push(`… and ${paths.length - limit} more`);
  return lines;
}
