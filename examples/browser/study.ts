// Browser page: a whole lwin study (train → diagnose → statistics) on the user's GPU, from the same modules as
// `lwin run`, with live progress, the report's figures redrawn as each cell finishes (the study's files are kept in
// memory and read by the report's own loader), and a download of every output file.
// Settings: ?config=<URL-encoded JSON over the quick preset> (default: the quick preset). The results are left on
// window.lwinStudy (window.lwinError on failure) for tests.
import { acquireDevice } from '../../src/gpu/device.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { resolveStudy, type StudyConfig } from '../../src/study/config.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { validationSize } from '../../src/data/dataset.ts';
import { train } from '../../src/train/trainer.ts';
import { memorySink } from '../../src/train/sink.ts';
import { runDiagnostics } from '../../src/diagnostics/stage.ts';
import { analyzeDiagnostics, type CellStatistics } from '../../src/study/statistics.ts';
import { diagnosticsOptions, trainConfigFor } from '../../src/study/settings.ts';
import { cellOutputFiles, studySummaryFiles } from '../../src/study/outputs.ts';
import { jsonText } from '../../src/study/format.ts';
import { CURVE_COLUMNS, GATE_COLUMNS, toCsv } from '../../src/train/curves.ts';
import { loadStudy } from '../../src/report/load.ts';
import { studyFigureSections } from '../../src/report/sections.ts';
import { figureHtml } from '../../src/report/render.ts';
import type { CellKind } from '../../src/model/cells.ts';

interface BrowserStudy {
  adapter: string;
  config: StudyConfig;
  cells: { cell: string; seconds: number; stats: CellStatistics }[];
  /** The study folder's files (relative path → text), as `lwin run` would write them. */
  files: Record<string, string>;
}

declare global {
  interface Window {
    lwinStudy?: BrowserStudy;
  }
}

const $ = (id: string) => document.getElementById(id)!;
/** Redraws the report's figures for the cells finished so far, from the in-memory study folder. */
async function drawFigures(files: Map<string, string>): Promise<void> {
  const study = await loadStudy('study', async (path) => files.get(path));
  const parts: string[] = [];
  for (const section of studyFigureSections(study)) {
    parts.push(`<h2>${section.heading}</h2>`);
    for (const figure of section.figures) parts.push(await figureHtml(figure));
  }
  $('figures').innerHTML = parts.join('\n');
}

function storeCell(files: Map<string, string>, result: BrowserStudy, cell: string, stats: CellStatistics, d: Parameters<typeof cellOutputFiles>[2], curves: { curve: Parameters<typeof toCsv>[1]; gates: Parameters<typeof toCsv>[1] }): void {
  for (const [name, text] of cellOutputFiles(cell, stats, d)) files.set(`study/${cell}/${name}`, text);
  files.set(`study/${cell}/${cell}_learning_curve.csv`, toCsv(CURVE_COLUMNS as never, curves.curve));
  files.set(`study/${cell}/gate_stats_${cell}.csv`, toCsv(GATE_COLUMNS as never, curves.gates));
  for (const [name, text] of studySummaryFiles(result.cells, result.config)) files.set(`study/${name}`, text);
  files.set('study/study.json', jsonText({ config: result.config, adapter: result.adapter, cells: result.cells.map((c) => ({ cell: c.cell, stats: c.stats, timings: { total: c.seconds } })) }));
}

function tableRow(stats: CellStatistics, seconds: number): string {
  const last = stats.windows.at(-1)!;
  const fit = stats.envelope.regimes?.exponential;
  const tau = fit ? (Number.isFinite(fit.tauEnv) ? fit.tauEnv.toFixed(1) : '∞') : '–';
  return `<tr><td>${stats.cell}</td><td>${tau}</td><td>${last.window}</td><td>${last.contiguousWindow}</td><td>${seconds.toFixed(1)} s</td></tr>`;
}

function offerDownload(result: BrowserStudy): void {
  const blob = new Blob([JSON.stringify(result.files, null, 1)], { type: 'application/json' });
  const link = $('download') as HTMLAnchorElement;
  link.href = URL.createObjectURL(blob);
  link.hidden = false;
}

async function run(): Promise<BrowserStudy> {
  const query = new URLSearchParams(location.search).get('config');
  const config = resolveStudy('quick', query ? JSON.parse(query) : {}, 'the page\'s config');
  const task = new MultiLagTask(config.task);
  const training = { train: task.trainingSet(config.trainSequences), validation: (e: number) => task.validationSet(validationSize(config.batch), e) };
  const diagnostic = task.diagnosticSet(config.diagSequences);
  const acquired = await acquireDevice();
  $('adapter').textContent = acquired.adapter.name;
  const result: BrowserStudy = { adapter: acquired.adapter.name, config, cells: [], files: {} };
  const files = new Map<string, string>();
  try {
    const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
    for (const cell of config.cells as CellKind[]) {
      const started = performance.now();
      const status = (text: string) => ($('status').textContent = `${cell}: ${text}`);
      const progress = {
        start: () => status('training…'),
        update: (epoch: number, values: Record<string, string>) => status(`epoch ${epoch}/${config.epochs}, loss ${values.loss}`),
        stop: () => {},
      };
      const sink = memorySink();
      const trained = await train(ctx, trainConfigFor(config, cell), training, { sink, progress });
      status('diagnostics…');
      const preconditioner = config.rho ? await trained.optimizer.preconditioner() : undefined;
      trained.optimizer.destroy();
      const d = await runDiagnostics(ctx, trained.layout, trained.params, diagnostic, diagnosticsOptions(config, preconditioner));
      status('statistics…');
      const stats = analyzeDiagnostics(d, { alphaMethod: config.alphaMethod, budgets: config.budgets, eps: config.eps, constS: cell === 'const' ? config.model.constS : undefined });
      const seconds = (performance.now() - started) / 1000;
      result.cells.push({ cell, seconds, stats });
      $('rows').insertAdjacentHTML('beforeend', tableRow(stats, seconds));
      storeCell(files, result, cell, stats, d, sink.last);
      status('drawing…');
      await drawFigures(files);
    }
    result.files = Object.fromEntries(files);
    $('status').textContent = 'done';
    return result;
  } finally {
    acquired.release();
  }
}

run().then(
  (result) => {
    document.body.dataset.state = 'ok';
    offerDownload(result);
    window.lwinStudy = result;
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    document.body.dataset.state = 'error';
    $('status').textContent = 'error';
    $('error').textContent = message;
    $('error').hidden = false;
    window.lwinError = message;
  },
);
