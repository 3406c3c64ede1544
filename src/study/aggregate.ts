// Merging finished studies (seeds of a sweep): per cell, mean ± std across runs of each lag's statistics and of each
// budget's window. Reads the files outputs.ts writes, by column name.
//
// Conventions (those of the reference's pandas aggregation, seed_utils.aggregate_numeric_by_key): std is the sample
// standard deviation (n − 1; nan for a single value); values that are not finite (a lag whose envelope is 0 has
// log μ = -inf) are left out and `_n` counts what was averaged; N_required_at_eps is averaged only over runs where the
// lag was detectable (not -1), so its `_n` says in how many runs it was.
//
// Only runs with the same settings are averaged: their study.json configs may differ in the seeds alone, unless the
// caller allows more (--allow-different), and then runs.json records every difference.
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { CELL_KINDS } from '../model/cells.ts';
import { cellFileNames, cellFolder, numericColumn, parseCsv, STUDY_FILES, type CsvTable } from '../io/study-files.ts';
import { csvText, type CsvValue } from './format.ts';
import { differingPaths, showValue, valueAt } from '../util/differences.ts';

export const AGGREGATED_SUMMARY_COLUMNS = ['mu_l1_mean', 'log_mu_l1_mean', 'alpha_hat', 'sigma_alpha_hat', 'mbar_scalar', 'N_required_at_eps'] as const;
export const AGGREGATED_WINDOW_COLUMNS = ['H_N', 'H_N_contiguous'] as const;
/** N_required_at_eps's value for a lag that no budget detects. */
const NOT_DETECTED = -1;

export interface MeanStd {
  mean: number;
  std: number;
  /** How many runs' values went into mean and std. */
  n: number;
}

/** One aggregated file: a key column (`ell` or `N`), and per key and column the mean, std and count. */
export interface AggregateSeries {
  key: string;
  keys: number[];
  columns: string[];
  /** values[row][column]. */
  values: MeanStd[][];
}

export interface CellAggregate {
  cell: string;
  /** The run folders that hold this cell. */
  runs: string[];
  summary: AggregateSeries;
  windows: AggregateSeries;
}

/** A setting that differs between the aggregated runs: each distinct value and the runs that have it. */
export interface SettingDifference {
  setting: string;
  values: { value: unknown; runs: string[] }[];
}

export interface AggregateTable {
  runs: string[];
  cells: CellAggregate[];
  /** Settings (study.json's config) that differ between the runs besides the seeds; empty unless allowed. */
  differences: SettingDifference[];
  /** Runs without a readable study.json, whose settings could not be compared. */
  unchecked: string[];
}

export interface AggregateOptions {
  /** Average runs whose settings differ (besides the seeds) instead of refusing; the differences are recorded. */
  allowDifferent?: boolean;
}

/** What a sweep varies between its runs, so not a difference: the model seed and the task seed it follows. */
export const SEED_SETTINGS: readonly string[] = ['seed', 'task.seed'];

interface CellTables {
  summary: CsvTable;
  windows: CsvTable;
}

interface FinishedRun {
  dir: string;
  cells: Map<string, CellTables>;
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** Why a folder without H_N_summary.csv is no finished study, and what to do. */
async function whatItIs(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  const seeds = entries.filter((e) => e.isDirectory() && /^seed_\d+$/.test(e.name)).map((e) => join(dir, e.name));
  if (seeds.length) return `a sweep's folder, not a study; pass its runs (${seeds.slice(0, 2).join(' ')}${seeds.length > 2 ? ' …' : ''})`;
  const started = entries.some((e) => e.name === STUDY_FILES.studyConfig || (e.isDirectory() && (CELL_KINDS as readonly string[]).includes(e.name)));
  return started ? `an unfinished study; finish it with \`lwin run --resume --out ${dir}\` (or rerun its sweep)` : 'not a study output folder';
}

/** A finished study folder's cell tables; the problems (not a study, unfinished, files missing) otherwise. */
async function readFinishedRun(dir: string): Promise<FinishedRun | string[]> {
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) return [`${dir} is not a folder`];
  const windowSummary = await readText(join(dir, STUDY_FILES.windowSummary));
  if (windowSummary === undefined) return [`${dir} has no H_N_summary.csv (written when a study's last cell is done): ${await whatItIs(dir)}`];
  // H_N_summary.csv's `H_N_<cell>` columns name the study's cells (as the reference's aggregation finds them).
  const cellNames = parseCsv(windowSummary, join(dir, STUDY_FILES.windowSummary)).header.filter((c) => c.startsWith('H_N_')).map((c) => c.slice(4));
  if (cellNames.length === 0) return [`${join(dir, STUDY_FILES.windowSummary)} names no cell (no H_N_<cell> column)`];
  const oddName = cellNames.find((c) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(c));
  if (oddName !== undefined) return [`${join(dir, STUDY_FILES.windowSummary)} has a column H_N_${oddName}, which names no cell folder`];
  const cells = new Map<string, CellTables>();
  const problems: string[] = [];
  for (const cell of cellNames) {
    const names = cellFileNames(cell);
    const [summaryPath, windowPath] = [join(dir, cellFolder(cell), names.summary), join(dir, cellFolder(cell), names.window)];
    const [summaryText, windowText] = await Promise.all([readText(summaryPath), readText(windowPath)]);
    if (summaryText === undefined) problems.push(`${summaryPath} is missing`);
    if (windowText === undefined) problems.push(`${windowPath} is missing`);
    if (summaryText !== undefined && windowText !== undefined) {
      cells.set(cell, { summary: parseCsv(summaryText, summaryPath), windows: parseCsv(windowText, windowPath) });
    }
  }
  return problems.length ? problems : { dir, cells };
}

/** Mean, sample std and count of the values that count (finite ones that `keep` accepts). */
export function meanStd(values: readonly number[], keep: (v: number) => boolean = () => true): MeanStd {
  const used = values.filter((v) => Number.isFinite(v) && keep(v));
  const n = used.length;
  const mean = n ? used.reduce((s, v) => s + v, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(used.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, std, n };
}

function describeGrid(keys: readonly number[]): string {
  return keys.length ? `${keys.length} values ${keys[0]}…${keys.at(-1)}` : 'no rows';
}

/** Aggregates one file kind of one cell across runs; refuses runs whose key grids differ. */
function aggregateSeries(tables: readonly { dir: string; table: CsvTable }[], key: string, columns: readonly string[], what: string): AggregateSeries {
  const grids = tables.map(({ table }) => numericColumn(table, key));
  const first = grids[0]!;
  grids.forEach((grid, i) => {
    if (grid.length !== first.length || grid.some((v, j) => v !== first[j])) {
      throw new Error(`the ${what} grids differ: ${tables[0]!.dir} has ${key} = ${describeGrid(first)}, ${tables[i]!.dir} has ${key} = ${describeGrid(grid)}. ` +
        'Aggregate only runs with the same settings.');
    }
  });
  const perColumn = columns.map((column) => {
    const keep = column === 'N_required_at_eps' ? (v: number) => v !== NOT_DETECTED : undefined;
    const byRun = tables.map(({ table }) => numericColumn(table, column));
    return first.map((_, row) => meanStd(byRun.map((values) => values[row]!), keep));
  });
  return { key, keys: first, columns: [...columns], values: first.map((_, row) => perColumn.map((c) => c[row]!)) };
}

/** The settings of each run (study.json's config), and the runs that have none. */
async function runSettings(dirs: readonly string[]): Promise<{ settings: { dir: string; config: unknown }[]; unchecked: string[] }> {
  const settings: { dir: string; config: unknown }[] = [];
  const unchecked: string[] = [];
  for (const dir of dirs) {
    const text = await readText(join(dir, STUDY_FILES.studyJson));
    let config: unknown;
    try {
      config = text === undefined ? undefined : (JSON.parse(text) as { config?: unknown }).config;
    } catch {
      config = undefined;
    }
    if (config === undefined) unchecked.push(dir);
    else settings.push({ dir, config });
  }
  return { settings, unchecked };
}

/** The settings that differ between runs besides the seeds, each with its values and the runs holding them. */
export function settingDifferences(runs: readonly { dir: string; config: unknown }[]): SettingDifference[] {
  const paths = [...new Set(runs.slice(1).flatMap((r) => differingPaths(runs[0]!.config, r.config)))].filter((p) => !SEED_SETTINGS.includes(p));
  return paths.map((setting) => {
    const values: { value: unknown; runs: string[] }[] = [];
    for (const run of runs) {
      const value = valueAt(run.config, setting);
      const same = values.find((v) => JSON.stringify(v.value) === JSON.stringify(value));
      if (same) same.runs.push(run.dir);
      else values.push({ value, runs: [run.dir] });
    }
    return { setting, values };
  });
}

function describeDifference({ setting, values }: SettingDifference): string {
  return `${setting}: ${values.map((v) => `${showValue(v.value)} (${v.runs.length > 2 ? `${v.runs[0]} and ${v.runs.length - 1} more` : v.runs.join(', ')})`).join(', ')}`;
}

/** Reads finished study folders and aggregates every cell over the runs that hold it. */
export async function aggregateRuns(dirs: readonly string[], options: AggregateOptions = {}): Promise<AggregateTable> {
  if (dirs.length === 0) throw new Error('nothing to aggregate: give the folders of finished studies, e.g. `lwin aggregate --out sweep sweep/seed_212 sweep/seed_1001`');
  const twice = dirs.find((d, i) => dirs.findIndex((e) => resolve(e) === resolve(d)) !== i);
  if (twice !== undefined) throw new Error(`${twice} is listed twice; each run must count once`);
  const read = await Promise.all(dirs.map(readFinishedRun));
  const problems = read.flatMap((r) => (Array.isArray(r) ? r : []));
  if (problems.length) throw new Error(`cannot aggregate; these are not finished studies:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const runs = read as FinishedRun[];
  const { settings, unchecked } = await runSettings(dirs);
  const differences = settingDifferences(settings);
  if (differences.length && !options.allowDifferent) {
    throw new Error(`cannot aggregate: the runs differ in settings besides the seeds (${SEED_SETTINGS.join(', ')}); nothing was written:\n` +
      `${differences.map((d) => `  ${describeDifference(d)}`).join('\n')}\n` +
      'Aggregate only runs with the same settings, or pass --allow-different to average them anyway (the differences are then recorded in aggregate/runs.json).');
  }
  const cellNames = [...new Set(runs.flatMap((r) => [...r.cells.keys()]))];
  const cells = cellNames.map((cell) => {
    const holding = runs.filter((r) => r.cells.has(cell));
    const pick = (kind: keyof CellTables) => holding.map((r) => ({ dir: r.dir, table: r.cells.get(cell)![kind] }));
    return {
      cell,
      runs: holding.map((r) => r.dir),
      summary: aggregateSeries(pick('summary'), 'ell', AGGREGATED_SUMMARY_COLUMNS, `lag (${cell})`),
      windows: aggregateSeries(pick('windows'), 'N', AGGREGATED_WINDOW_COLUMNS, `budget (${cell})`),
    };
  });
  return { runs: [...dirs], cells, differences, unchecked };
}

/** The CSV text of a series: the key column, then `<col>_mean,<col>_std,<col>_n` per column. */
export function seriesCsv(series: AggregateSeries, what: string): string {
  const header = [series.key, ...series.columns.flatMap((c) => [`${c}_mean`, `${c}_std`, `${c}_n`])];
  const rows = series.keys.map((k, row) => [k, ...series.values[row]!.flatMap((v): CsvValue[] => [v.mean, v.std, v.n])]);
  return csvText(header, rows, what);
}

/**
 * Writes `<target>/aggregate/<cell>_summary_aggregate.csv`, `<cell>_H_N_aggregate.csv` per cell and `runs.json`
 * (which runs each cell averaged), each atomically; returns the paths.
 */
export async function writeAggregate(target: string, table: AggregateTable): Promise<string[]> {
  const dir = join(target, 'aggregate');
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const { cell, summary, windows } of table.cells) {
    for (const [name, series] of [[`${cell}_summary_aggregate.csv`, summary], [`${cell}_H_N_aggregate.csv`, windows]] as const) {
      await writeFileAtomic(join(dir, name), seriesCsv(series, name));
      written.push(join(dir, name));
    }
  }
  const runs = {
    runs: table.runs, cells: Object.fromEntries(table.cells.map((c) => [c.cell, c.runs])),
    // Averaged with --allow-different: which settings differed, and in which runs (empty: only the seeds did).
    settings_differ: table.differences, settings_unchecked: table.unchecked,
  };
  await writeFileAtomic(join(dir, 'runs.json'), `${JSON.stringify(runs, null, 2)}\n`);
  written.push(join(dir, 'runs.json'));
  return written;
}
