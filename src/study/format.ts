// How a study's files spell values, so that pandas and numpy read back what lwin computed.
//
// CSV (RFC 4180, '\n' line ends, header row first):
//   finite numbers   shortest round-trip text (String(x)): parses back to the identical double;
//   ±∞, NaN          `inf`, `-inf`, `nan`: pandas.read_csv and numpy.genfromtxt read these as floats;
//   booleans         `1` / `0`, as the reference writes `int(alpha_reliable)` and its analysis reads with astype(int);
//   null, undefined  empty (pandas: NaN) — a study resumed from JSON has null where a number was not finite;
//   strings          as they are, quoted ("…", inner quotes doubled) when they hold a comma, quote or line break.
// JSON: typed arrays become plain arrays, non-finite numbers become null (JSON has no ∞ or NaN; Python's json
// would write the non-standard `Infinity`), undefined members are left out, two-space indentation.

export type CsvValue = number | string | boolean | null | undefined;

export function csvField(value: CsvValue): string {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (value === Infinity) return 'inf';
    if (value === -Infinity) return '-inf';
    return String(value);
  }
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (value === null || value === undefined) return '';
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The CSV text of a header and rows; every row must have one value per column. */
export function csvText(header: readonly string[], rows: readonly (readonly CsvValue[])[], what = 'csv'): string {
  const lines = [header.map(csvField).join(',')];
  rows.forEach((row, i) => {
    if (row.length !== header.length) throw new Error(`${what}: row ${i} has ${row.length} values for ${header.length} columns (${header.join(',')})`);
    lines.push(row.map(csvField).join(','));
  });
  return `${lines.join('\n')}\n`;
}

function isTypedArray(value: unknown): value is ArrayLike<number | bigint> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/**
 * A JSON-ready copy: typed arrays as plain arrays, non-finite numbers as null, bigints as numbers, undefined
 * members dropped, objects with toJSON (Date) through it. Plain data in, plain data out; cycles are not supported.
 */
export function toPlainJson(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object') return value === undefined ? null : value;
  if (isTypedArray(value)) return Array.from(value, (v) => toPlainJson(v));
  if (Array.isArray(value)) return value.map((v) => toPlainJson(v));
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return toPlainJson(withJson.toJSON());
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member === undefined || typeof member === 'function') continue;
    out[key] = toPlainJson(member);
  }
  return out;
}

export function jsonText(value: unknown): string {
  return `${JSON.stringify(toPlainJson(value), null, 2)}\n`;
}

function configValue(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return csvField(value);
  return String(value);
}

/**
 * `cli_args.csv` rows: the resolved configuration flattened with dots (`train.lr`); arrays of plain values are
 * one entry, comma-joined as the command line takes them (`25,50,100`); arrays holding objects are indexed
 * (`cells.0.name`); booleans `True`/`False` as the reference's str(bool); null `''`; undefined members left out.
 */
export function flattenConfig(config: unknown, prefix = ''): [string, string][] {
  if (config === undefined || typeof config === 'function') return [];
  if (config === null) return [[prefix, '']];
  if (isTypedArray(config)) return [[prefix, Array.from(config, configValue).join(',')]];
  if (Array.isArray(config)) {
    if (config.every((v) => v === null || typeof v !== 'object')) return [[prefix, config.map(configValue).join(',')]];
    return config.flatMap((v, i) => flattenConfig(v, prefix ? `${prefix}.${i}` : String(i)));
  }
  if (typeof config === 'object') {
    return Object.entries(config).flatMap(([key, v]) => flattenConfig(v, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix, configValue(config)]];
}
