// The names of a study folder's files and the one CSV reader of lwin: the study writes these files
// (src/study/outputs.ts, the trainer's curves, the trajectory), and the report, the aggregate, resume and the tests
// read them back through here. It imports nothing of lwin's, so every layer can use it without a cycle.

/** Files at the top of a study folder. */
export const STUDY_FILES = {
  /** Wide `N,H_N_<cell>…,contiguous_H_N_<cell>…`; written when the study's last cell is done. */
  windowSummary: 'H_N_summary.csv',
  cliArgs: 'cli_args.csv',
  studyJson: 'study.json',
  /** The settings the study started with (resume checks against them). */
  studyConfig: 'study_config.json',
  report: 'report.html',
} as const;

/** Layer k of a stack of `cell` layers (SPEC §13): its files are `<cell>_l{k}_*`, in `<dir>/<cell>/`. */
export function layerCellName(cell: string, layer: number): string {
  return `${cell}_l${layer}`;
}

/** The folder of a cell's files: its own name, or for a layer of a stack (`<cell>_l{k}`) the stack's cell. */
export function cellFolder(name: string): string {
  return name.replace(/_l\d+$/, '');
}

/** File names of one cell, relative to `<dir>/<cell>/`. */
export function cellFileNames(cell: string) {
  return {
    summary: `${cell}_summary.csv`,
    muUnits: `${cell}_mu_units.csv`,
    tauUnits: `${cell}_tau_from_mu_units.csv`,
    tauStats: `${cell}_tau_from_mu_stats.json`,
    tauConst: `${cell}_tau_const.json`,
    envelopeFits: `${cell}_envelope_fits.json`,
    window: `${cell}_H_N.csv`,
    learningCurve: `${cell}_learning_curve.csv`,
    gateStats: `gate_stats_${cell}.csv`,
    trajectory: `${cell}_trajectory.csv`,
    lagRecovery: `${cell}_lag_recovery.csv`,
    weights: `${cell}.safetensors`,
    optimizer: `${cell}_optimizer.safetensors`,
    /** Written last: the cell is finished (resume keeps it). */
    record: `${cell}_cell.json`,
  };
}

/** A CSV file as text fields, read by header name. */
export interface CsvTable {
  source: string;
  header: string[];
  rows: string[][];
}

/** Splits CSV text (RFC 4180 quoting, as format.ts writes it); every row must have one field per header column. */
export function parseCsv(text: string, source: string): CsvTable {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new Error(`${source} is empty; expected a header row`);
  const [header, ...rows] = lines.map(splitCsvLine);
  rows.forEach((row, i) => {
    if (row.length !== header!.length) throw new Error(`${source}: line ${i + 2} has ${row.length} fields for ${header!.length} columns (${header!.join(',')})`);
  });
  return { source, header: header!, rows };
}

function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') fields.push(field), (field = '');
    else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

const SPECIAL: Record<string, number> = { '': NaN, nan: NaN, inf: Infinity, '+inf': Infinity, infinity: Infinity, '-inf': -Infinity, '-infinity': -Infinity };

/** A column as numbers: `inf`, `-inf`, `nan` and empty fields (format.ts's spellings) become ±Infinity and NaN. */
export function numericColumn(table: CsvTable, name: string): number[] {
  const index = table.header.indexOf(name);
  if (index < 0) throw new Error(`${table.source} has no column '${name}' (its columns: ${table.header.join(',')})`);
  return table.rows.map((row, i) => {
    const text = row[index]!.toLowerCase();
    const value = text in SPECIAL ? SPECIAL[text]! : Number(text);
    if (Number.isNaN(value) && !(text in SPECIAL)) throw new Error(`${table.source}: line ${i + 2}, column ${name}: '${row[index]}' is not a number`);
    return value;
  });
}

/** The rows of a numeric CSV as records of `columns`; undefined when its header is not exactly `columns`. */
export function numericRecords<R>(text: string, source: string, columns: readonly (keyof R & string)[]): R[] | undefined {
  const table = parseCsv(text, source);
  if (table.header.join(',') !== columns.join(',')) return undefined;
  const values = columns.map((c) => numericColumn(table, c));
  return table.rows.map((_, r) => Object.fromEntries(columns.map((c, i) => [c, values[i]![r]])) as R);
}
