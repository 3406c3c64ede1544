// Reads a study folder (`lwin run --out DIR`) or a sweep folder (`seed_<S>/` studies + `aggregate/`) into plain data
// for the figures. File names and the CSV reader are src/io/study-files.ts's (columns: src/study/outputs.ts and aggregate.ts); optional
// inputs (trajectory, transport, generalized envelope, learning curves) are `undefined` when absent.
import { readFile, readdir, stat } from 'node:fs/promises';
import type { ProfileReport } from '../gpu/profiler.ts';
import { cellFileNames, cellFolder, numericColumn, parseCsv, STUDY_FILES, type CsvTable } from '../io/study-files.ts';

export type Row = Record<string, number>;

/** `<cell>_envelope_fits.json`: the reference's exp and power lines; `preferred` from lwin's additions (`lwin`). */
export interface EnvelopeFits {
  exp?: { a: number; b: number; r2: number | null; tauEnv: number | null };
  power?: { c: number; d: number; r2: number | null };
  preferred?: string;
}

export interface LagExtras {
  ell: number;
  muL1Mean: number;
  generalized?: number;
  exact?: number;
}

export interface CellReport {
  cell: string;
  /** `<cell>_summary.csv` rows, numeric columns only (alpha_method dropped). */
  summary: Row[];
  /** `<cell>_H_N.csv`: N, H_N, H_N_contiguous. */
  windows: Row[];
  envelopeFits?: EnvelopeFits;
  /** Finite and infinite τ of `<cell>_tau_from_mu_units.csv`. */
  tau: number[];
  tauCcdf?: { x: number[]; p: number[]; infinite: number };
  learningCurve?: Row[];
  trajectory?: Row[];
  /** `<cell>_lag_recovery.csv`: epoch, ell, c_hat, c_true (SPEC §12). */
  recovery?: Row[];
  /** From study.json's stats.lags: the exact (f_exact) and generalized envelope next to f̂. */
  lagExtras: LagExtras[];
  transport?: { spearman: number | null; logPearson: number | null; samples: number };
  timings?: Record<string, number>;
  /** Learned against learnable per task lag (SPEC §12), when the study tracked the lag recovery. */
  learned?: { lag: number; coeff: number; windowAtN: number; insideWindow: boolean; learnedAtEpoch: number | null; finalCHat: number | null }[];
}

export interface StudyReport {
  kind: 'study';
  dir: string;
  cells: CellReport[];
  /** `cli_args.csv` as (argument, value) pairs. */
  config: [string, string][];
  adapter?: Record<string, unknown>;
  seconds?: number;
  profile?: { source?: string; totalMs?: number; kernels: { name: string; calls: number; totalMs: number; meanUs: number; share: number }[]; sampled?: ProfileReport['sampled'] };
  eps?: number;
  budgets?: number[];
}

export interface AggregateCell {
  cell: string;
  /** `<cell>_summary_aggregate.csv`: ell and `<col>_mean,<col>_std,<col>_n`. */
  summary: Row[];
  /** `<cell>_H_N_aggregate.csv`: N and `<col>_mean,<col>_std,<col>_n`. */
  windows: Row[];
}

export interface SweepReport {
  kind: 'sweep';
  dir: string;
  seeds: string[];
  aggregate: AggregateCell[];
  /** The first seed's study, shown in full below the bands. */
  first?: StudyReport;
}

export type ReportInput = StudyReport | SweepReport;

/** Reads a file's text, or undefined when it does not exist. The browser page passes one over files in memory. */
export type TextReader = (path: string) => Promise<string | undefined>;

const readText: TextReader = (path) => readFile(path, 'utf8').catch(() => undefined);

/** Paths are joined with '/', which every runtime accepts (Node on Windows included). */
const join = (...parts: string[]): string => parts.join('/');

async function readJson(path: string, read: TextReader = readText): Promise<Record<string, unknown> | undefined> {
  const text = await read(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); rerun the study that wrote it`);
  }
}

const isDir = (path: string) => stat(path).then((s) => s.isDirectory(), () => false);

/** The numeric columns of a CSV as rows; columns that are not numbers (alpha_method) are left out. */
export function numericRows(table: CsvTable): Row[] {
  const columns = table.header.filter((name) => {
    try {
      numericColumn(table, name);
      return true;
    } catch {
      return false;
    }
  });
  const values = columns.map((name) => numericColumn(table, name));
  return table.rows.map((_, i) => Object.fromEntries(columns.map((name, c) => [name, values[c]![i]!])));
}

async function readRows(path: string, read: TextReader = readText): Promise<Row[] | undefined> {
  const text = await read(path);
  return text === undefined ? undefined : numericRows(parseCsv(text, path));
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function envelopeFits(json: Record<string, unknown> | undefined): EnvelopeFits | undefined {
  if (!json) return undefined;
  const exp = json.exp as Record<string, unknown> | undefined;
  const power = json.power as Record<string, unknown> | undefined;
  const fits: EnvelopeFits = {};
  if (exp && num(exp.a) !== null && num(exp.b) !== null) fits.exp = { a: exp.a as number, b: exp.b as number, r2: num(exp.r2), tauEnv: num(exp.tau_env) };
  if (power && num(power.c) !== null && num(power.d) !== null) fits.power = { c: power.c as number, d: power.d as number, r2: num(power.r2) };
  const extras = json.lwin as Record<string, unknown> | undefined;
  if (typeof extras?.preferred === 'string') fits.preferred = extras.preferred;
  return fits;
}

interface StudyJsonCell {
  cell: string;
  stats?: { lags?: { ell: number; muL1Mean: number | null; generalized?: { mean: number | null }; exact?: number | null }[]; transport?: { samples: number; agreement: { spearman: number | null; logPearson: number | null } }; eps?: number; budgets?: number[] };
  timings?: Record<string, number>;
  learned?: CellReport['learned'];
}

function lagExtras(entry: StudyJsonCell | undefined): LagExtras[] {
  return (entry?.stats?.lags ?? []).map((lag) => {
    const extras: LagExtras = { ell: lag.ell, muL1Mean: lag.muL1Mean ?? NaN };
    if (lag.generalized && lag.generalized.mean !== null) extras.generalized = lag.generalized.mean;
    if (lag.exact !== undefined && lag.exact !== null) extras.exact = lag.exact;
    return extras;
  });
}

/**
 * `stackTop`: the cell is the top layer of a trained stack (`<cell>_l{k}`, no layer above it in the study), which
 * shows the stack's learning curve.
 */
async function loadCell(dir: string, cell: string, entry: StudyJsonCell | undefined, read: TextReader, stackTop = false): Promise<CellReport> {
  const names = cellFileNames(cell);
  const at = (name: string) => join(dir, cellFolder(cell), name);
  const summary = await readRows(at(names.summary), read);
  const windows = await readRows(at(names.window), read);
  if (!summary || !windows) throw new Error(`${join(dir, cellFolder(cell))} lacks ${names.summary} or ${names.window}; the study is unfinished (finish it with \`lwin run --resume --out ${dir}\`)`);
  const tauRows = (await readRows(at(names.tauUnits), read)) ?? [];
  const tauStats = await readJson(at(names.tauStats), read);
  const ccdf = tauStats?.ccdf as { x: number[]; p: number[]; infinite?: number } | undefined;
  const report: CellReport = {
    cell,
    summary,
    windows,
    envelopeFits: envelopeFits(await readJson(at(names.envelopeFits), read)),
    tau: tauRows.map((r) => r.tau!).filter((t) => !Number.isNaN(t)),
    learningCurve: (await readRows(at(names.learningCurve), read)) ?? (stackTop ? await readRows(at(cellFileNames(cellFolder(cell)).learningCurve), read) : undefined),
    trajectory: await readRows(at(names.trajectory), read),
    recovery: await readRows(at(names.lagRecovery), read),
    lagExtras: lagExtras(entry),
  };
  if (ccdf && Array.isArray(ccdf.x)) report.tauCcdf = { x: ccdf.x, p: ccdf.p, infinite: ccdf.infinite ?? 0 };
  const transport = entry?.stats?.transport;
  if (transport) report.transport = { samples: transport.samples, ...transport.agreement };
  if (entry?.timings) report.timings = entry.timings;
  if (entry?.learned) report.learned = entry.learned;
  return report;
}

/** Whether `cell` is layer k of a stack (`<cell>_l{k}`) and the study lists no layer k+1 of it. */
function isStackTop(cell: string, cells: readonly string[]): boolean {
  const layer = /_l(\d+)$/.exec(cell);
  return layer !== null && !cells.includes(`${cellFolder(cell)}_l${Number(layer[1]) + 1}`);
}

/** A study folder's content; throws (saying what the folder is instead) when it is no finished study. */
export async function loadStudy(dir: string, read: TextReader = readText): Promise<StudyReport> {
  const windowText = await read(join(dir, STUDY_FILES.windowSummary));
  if (windowText === undefined) throw new Error(`${dir} is not a study or sweep folder: it has no H_N_summary.csv (a study) and no aggregate/ folder (a sweep). Give the --out folder of \`lwin run\` or \`lwin sweep\``);
  const cells = parseCsv(windowText, join(dir, STUDY_FILES.windowSummary)).header.filter((c) => c.startsWith('H_N_')).map((c) => c.slice(4));
  if (cells.length === 0) throw new Error(`${join(dir, STUDY_FILES.windowSummary)} names no cell (no H_N_<cell> column); it is not a study summary`);
  const study = await readJson(join(dir, STUDY_FILES.studyJson), read);
  const entries = (study?.cells ?? []) as StudyJsonCell[];
  const configText = await read(join(dir, STUDY_FILES.cliArgs));
  const config = configText === undefined ? [] : parseCsv(configText, join(dir, STUDY_FILES.cliArgs)).rows.map((r) => [r[0]!, r[1] ?? ''] as [string, string]);
  const report: StudyReport = {
    kind: 'study',
    dir,
    cells: await Promise.all(cells.map((cell) => loadCell(dir, cell, entries.find((e) => e.cell === cell), read, isStackTop(cell, cells)))),
    config,
  };
  if (study?.adapter) report.adapter = study.adapter as Record<string, unknown>;
  if (typeof study?.seconds === 'number') report.seconds = study.seconds;
  if (study?.profile) report.profile = study.profile as StudyReport['profile'];
  const firstStats = entries[0]?.stats;
  if (firstStats?.eps !== undefined) report.eps = firstStats.eps;
  if (firstStats?.budgets) report.budgets = firstStats.budgets;
  return report;
}

async function loadSweep(dir: string): Promise<SweepReport> {
  const aggregateDir = join(dir, 'aggregate');
  const files = await readdir(aggregateDir);
  const cells = files.filter((f) => f.endsWith('_summary_aggregate.csv')).map((f) => f.slice(0, -'_summary_aggregate.csv'.length)).sort();
  if (cells.length === 0) throw new Error(`${aggregateDir} holds no <cell>_summary_aggregate.csv; run \`lwin aggregate --out ${dir} ${dir}/seed_*\``);
  const aggregate = await Promise.all(cells.map(async (cell) => ({
    cell,
    summary: (await readRows(join(aggregateDir, `${cell}_summary_aggregate.csv`)))!,
    windows: (await readRows(join(aggregateDir, `${cell}_H_N_aggregate.csv`))) ?? [],
  })));
  const seeds = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && /^seed_\d+$/.test(e.name)).map((e) => e.name).sort();
  const report: SweepReport = { kind: 'sweep', dir, seeds, aggregate };
  const firstSeed = seeds[0];
  if (firstSeed !== undefined && (await readText(join(dir, firstSeed, STUDY_FILES.windowSummary))) !== undefined) report.first = await loadStudy(join(dir, firstSeed));
  return report;
}

/** A study (H_N_summary.csv) or a sweep (aggregate/); refuses anything else with what to pass instead. */
export async function loadReportInput(dir: string): Promise<ReportInput> {
  if (!(await isDir(dir))) throw new Error(`${dir} is not a folder; give the --out folder of \`lwin run\` or \`lwin sweep\``);
  if ((await readText(join(dir, STUDY_FILES.windowSummary))) !== undefined) return loadStudy(dir);
  if (await isDir(join(dir, 'aggregate'))) return loadSweep(dir);
  const entries = await readdir(dir, { withFileTypes: true });
  const groups = [];
  for (const e of entries) if (e.isDirectory() && (await isDir(join(dir, e.name, 'aggregate')))) groups.push(join(dir, e.name));
  if (groups.length) throw new Error(`${dir} is a sweep over several optimizers; report each group: ${groups.map((g) => `\`lwin report ${g}\``).join(', ')}`);
  return loadStudy(dir);
}
