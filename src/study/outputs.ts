// The files of one study, as (name, text) pairs written through a Storage (on disk: atomically, io/node-storage.ts,
// so an interrupted run leaves every file either as it was or complete); their names are io/study-files.ts's. Names and columns follow the reference
// scripts, so their pandas analysis reads lwin's directories; value spelling is in format.ts.
//
// In <dir>/<cell>/:
//   <cell>_summary.csv             one row per lag: SUMMARY_COLUMNS (best_snr etc. are lwin's definitions, detection.ts)
//   <cell>_mu_units.csv            μ^(q)(ℓ): `ell,mu_unit_0,…,mu_unit_{H-1}`, one row per lag (the reference's layout)
//   <cell>_tau_from_mu_units.csv   the reference's `unit_id,tau,C,a,b,r2,num_points` (log μ^(q) = a + bℓ, C = e^a), one row
//                                  per unit with a fit (≥ 5 lags with μ^(q) > 0), as the reference lists only fitted
//                                  units; τ = inf where the envelope does not decay
//   <cell>_tau_from_mu_stats.json  the reference's keys (model, num_units = fitted units, tau_min/max/mean/std) with min,
//                                  max, mean, std over the finite τ, plus median, quantiles, counts, the CCDF, const_gate
//   <cell>_tau_const.json          const cell only: {s, leak, tau} of τ = -1/log(1-s), as the reference
//   <cell>_envelope_fits.json      exactly the reference's {exp: {a, b, r2, tau_env}, power: {c, d, r2}} (log f̂ = a + bℓ and
//                                  c + d log ℓ: b and d are the signed slopes, which its master-law script reads as
//                                  `beta` when no `beta` key is there); lwin's additions (λ, β, AIC/BIC, n, the
//                                  log-log regime, the preferred one, master proportionality, asymptotic predictions)
//                                  under `lwin`, a key no reference script reads
//   <cell>_H_N.csv                 `N,H_N,H_N_contiguous`, one row per budget
// In <dir>/:
//   H_N_summary.csv                wide, as the reference: `N,H_N_<cell>…,contiguous_H_N_<cell>…`, one row per budget
//                                  (the contiguous columns do not start with `H_N_`, which the reference's
//                                  aggregation takes for cells)
//   cli_args.csv                   `argument,value` (the reference's header): the reference's argument names and
//                                  spelling first, then lwin's other settings flattened (cli-args.ts)
//   study.json                     what the caller assembles, made plain (format.ts: toPlainJson)
import type { Diagnostics } from '../diagnostics/result.ts';
import type { CellStatistics, LagRow } from './statistics.ts';
import { csvText, jsonText, type CsvValue } from './format.ts';
import { cliArgsRows } from './cli-args.ts';
import { cellFileNames, STUDY_FILES } from '../io/study-files.ts';
import { joinPath, type Storage } from '../io/storage.ts';
import { nodeStorage } from '../io/node-storage.ts';

export const SUMMARY_COLUMNS = [
  'ell', 'mu_l1_mean', 'log_mu_l1_mean', 'alpha_hat', 'sigma_alpha_hat', 'N_required_at_eps', 'best_snr', 'err_at_best_snr',
  'best_N_for_ell', 'mbar_scalar', 'alpha_reliable', 'alpha_method', 'n_samples',
] as const;
export const TAU_COLUMNS = ['unit_id', 'tau', 'C', 'a', 'b', 'r2', 'num_points'] as const;
export const H_N_COLUMNS = ['N', 'H_N', 'H_N_contiguous'] as const;
export const CLI_ARGS_COLUMNS = ['argument', 'value'] as const;

function checkCellName(cell: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(cell)) {
    throw new Error(`outputs: cell name '${cell}' cannot name a directory and files; use letters, digits, '.', '_' or '-'`);
  }
}

async function writeFiles(storage: Storage, dir: string, files: [string, string][]): Promise<string[]> {
  const written: string[] = [];
  for (const [name, text] of files) {
    const path = joinPath(dir, name);
    await storage.write(path, text);
    written.push(path);
  }
  return written;
}

function summaryRow(r: LagRow): CsvValue[] {
  return [
    r.ell, r.muL1Mean, r.logMuL1Mean, r.alphaHat, r.sigmaHat, r.nRequired, r.bestSnr, r.errAtBestSnr, r.bestNForEll,
    r.mbar, r.alphaReliable, r.alphaMethod, r.nSamples,
  ];
}

function muUnitsCsv(cell: string, diagnostics: Diagnostics): string {
  const units = diagnostics.perLag[0]?.perUnit.length ?? diagnostics.hidden;
  const header = ['ell', ...Array.from({ length: units }, (_, q) => `mu_unit_${q}`)];
  return csvText(header, diagnostics.perLag.map((lag) => [lag.ell, ...lag.perUnit]), `${cell}_mu_units.csv`);
}

function tauStatsJson(cell: string, stats: CellStatistics): unknown {
  const { summary: s, ccdf, constGate } = stats.timescales;
  return {
    model: cell,
    num_units: s.fitted,
    tau_min: s.min, tau_max: s.max, tau_mean: s.mean, tau_std: s.std,
    tau_median: s.median, tau_q10: s.q10, tau_q25: s.q25, tau_q75: s.q75, tau_q90: s.q90,
    num_finite: s.finite, num_infinite: s.infinite, num_unfit: s.unfit, units_total: s.units,
    moments_over: 'finite tau only; infinite tau (no decay) counted in num_infinite',
    ccdf: { x: ccdf.x, p: ccdf.p, units: ccdf.units, infinite: ccdf.infinite },
    ...(constGate && { const_gate: constGate }),
    ...(s.fitted === 0 && { note: 'No valid exponential fits (fewer than 5 lags with mu_unit > 0 for every unit).' }),
  };
}

function envelopeFitsJson(stats: CellStatistics): unknown {
  const { regimes, error } = stats.envelope;
  const { fit, ells, x, y } = stats.master;
  const master = { fit: fit ? { intercept: fit.intercept, slope: fit.slope, r2: fit.r2, n: fit.n, aic: fit.aic, bic: fit.bic } : null, ells, x, y };
  const asymptotic = stats.asymptotic;
  // The reference writes {} when it cannot fit; lwin says why under its own key.
  if (!regimes) return { lwin: { note: error, master, asymptotic } };
  const { exponential: e, power: p, logarithmic: l } = regimes;
  return {
    exp: { a: e.intercept, b: e.slope, r2: e.r2, tau_env: e.tauEnv },
    power: { c: p.intercept, d: p.slope, r2: p.r2 },
    lwin: {
      exp: { lambda: e.lambda, aic: e.aic, bic: e.bic, n: e.n },
      power: { beta: p.beta, aic: p.aic, bic: p.bic, n: p.n },
      logarithmic: l ? { c: l.intercept, d: l.slope, r2: l.r2, gamma: l.gamma, aic: l.aic, bic: l.bic, n: l.n } : null,
      preferred: regimes.preferred,
      ...(regimes.note !== undefined && { note: regimes.note }),
      master,
      asymptotic,
    },
  };
}

/** The files of one cell as (name, text) pairs, without writing them (the browser page keeps them in memory). */
export function cellOutputFiles(cell: string, stats: CellStatistics, diagnostics: Diagnostics): [string, string][] {
  checkCellName(cell);
  const names = cellFileNames(cell);
  const fitted = stats.timescales.units.filter((u) => !Number.isNaN(u.tau));
  const files: [string, string][] = [
    [names.summary, csvText(SUMMARY_COLUMNS, stats.lags.map(summaryRow), names.summary)],
    [names.muUnits, muUnitsCsv(cell, diagnostics)],
    [names.tauUnits, csvText(TAU_COLUMNS, fitted.map((u) => [u.unit, u.tau, u.amplitude, u.intercept, u.slope, u.r2, u.lagsUsed]), names.tauUnits)],
    [names.tauStats, jsonText(tauStatsJson(cell, stats))],
    [names.envelopeFits, jsonText(envelopeFitsJson(stats))],
    [names.window, csvText(H_N_COLUMNS, stats.windows.map((w) => [w.budget, w.window, w.contiguousWindow]), names.window)],
  ];
  if (stats.timescales.constGate) files.push([names.tauConst, jsonText(stats.timescales.constGate)]);
  return files;
}

/** Writes the files of one cell into `<dir>/<cell>/`; returns their paths. */
export async function writeCellOutputs(dir: string, cell: string, stats: CellStatistics, diagnostics: Diagnostics, storage: Storage = nodeStorage()): Promise<string[]> {
  return writeFiles(storage, joinPath(dir, cell), cellOutputFiles(cell, stats, diagnostics));
}

/** `H_N_summary.csv` text: one row per budget of any cell, `H_N_<cell>` then `contiguous_H_N_<cell>` columns. */
export function windowSummaryCsv(cells: readonly { cell: string; stats: CellStatistics }[]): string {
  const budgets = [...new Set(cells.flatMap((c) => c.stats.windows.map((w) => w.budget)))].sort((a, b) => a - b);
  const header = ['N', ...cells.map((c) => `H_N_${c.cell}`), ...cells.map((c) => `contiguous_H_N_${c.cell}`)];
  const at = (stats: CellStatistics, n: number) => stats.windows.find((w) => w.budget === n);
  const rows = budgets.map((n) => [
    n,
    ...cells.map((c) => at(c.stats, n)?.window ?? NaN),
    ...cells.map((c) => at(c.stats, n)?.contiguousWindow ?? NaN),
  ]);
  return csvText(header, rows, STUDY_FILES.windowSummary);
}

/** `H_N_summary.csv` and `cli_args.csv` as (name, text) pairs. */
export function studySummaryFiles(cells: readonly { cell: string; stats: CellStatistics }[], config: object): [string, string][] {
  cells.forEach((c) => checkCellName(c.cell));
  const duplicate = cells.find((c, i) => cells.findIndex((d) => d.cell === c.cell) !== i);
  if (duplicate) throw new Error(`outputs: cell '${duplicate.cell}' appears twice in the study summary; cell names must be unique`);
  return [
    [STUDY_FILES.windowSummary, windowSummaryCsv(cells)],
    [STUDY_FILES.cliArgs, csvText(CLI_ARGS_COLUMNS, cliArgsRows(config), STUDY_FILES.cliArgs)],
  ];
}

/** Writes `H_N_summary.csv` and `cli_args.csv` at the top of `dir`; returns their paths. */
export async function writeStudySummary(dir: string, cells: { cell: string; stats: CellStatistics }[], config: object, storage: Storage = nodeStorage()): Promise<string[]> {
  return writeFiles(storage, dir, studySummaryFiles(cells, config));
}

/** Writes `<dir>/study.json` from what the caller assembled (typed arrays → arrays, non-finite → null); returns its path. */
export async function writeStudyJson(dir: string, study: object, storage: Storage = nodeStorage()): Promise<string> {
  const [path] = await writeFiles(storage, dir, [[STUDY_FILES.studyJson, jsonText(study)]]);
  return path!;
}
