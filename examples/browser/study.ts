// Browser page: a whole lwin study (train → diagnose → statistics) on the user's GPU, from the same modules as
// `lwin run`, with live progress, a figure and a table per cell as each finishes, and a download of the results.
// Settings: ?config=<URL-encoded JSON over the quick preset> (default: the quick preset). The results are left on
// window.lwinStudy (window.lwinError on failure) for tests.
import * as vega from 'vega';
import * as vl from 'vega-lite';
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
import type { CellKind } from '../../src/model/cells.ts';

interface BrowserStudy {
  adapter: string;
  config: StudyConfig;
  cells: { cell: string; seconds: number; stats: CellStatistics }[];
}

declare global {
  interface Window {
    lwinStudy?: BrowserStudy;
  }
}

const $ = (id: string) => document.getElementById(id)!;
const PALETTE: Record<string, string> = { const: '#E69F00', shared: '#56B4E9', diag: '#009E73', gru: '#0072B2', lstm: '#D55E00' };

async function envelopeFigure(stats: CellStatistics, container: HTMLElement): Promise<void> {
  const values = stats.lags.filter((l) => l.muL1Mean > 0).map((l) => ({ ell: l.ell, f: l.muL1Mean }));
  const spec: vl.TopLevelSpec = {
    title: `${stats.cell}: envelope f̂(ℓ) (semi-log)`,
    width: 320, height: 160, data: { values },
    mark: { type: 'line', point: true, color: PALETTE[stats.cell] ?? '#000' },
    encoding: {
      x: { field: 'ell', type: 'quantitative', title: 'lag ℓ (steps)' },
      y: { field: 'f', type: 'quantitative', scale: { type: 'log' }, title: 'f̂(ℓ) = mean |μ|' },
    },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'svg', container });
  await view.runAsync();
}

function tableRow(stats: CellStatistics, seconds: number): string {
  const last = stats.windows.at(-1)!;
  const fit = stats.envelope.regimes?.exponential;
  const tau = fit ? (Number.isFinite(fit.tauEnv) ? fit.tauEnv.toFixed(1) : '∞') : '–';
  return `<tr><td>${stats.cell}</td><td>${tau}</td><td>${last.window}</td><td>${last.contiguousWindow}</td><td>${seconds.toFixed(1)} s</td></tr>`;
}

function offerDownload(result: BrowserStudy): void {
  const blob = new Blob([JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)], { type: 'application/json' });
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
  const result: BrowserStudy = { adapter: acquired.adapter.name, config, cells: [] };
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
      const trained = await train(ctx, trainConfigFor(config, cell), training, { sink: memorySink(), progress });
      status('diagnostics…');
      const preconditioner = config.rho ? await trained.optimizer.preconditioner() : undefined;
      trained.optimizer.destroy();
      const d = await runDiagnostics(ctx, trained.layout, trained.params, diagnostic, diagnosticsOptions(config, preconditioner));
      status('statistics…');
      const stats = analyzeDiagnostics(d, { alphaMethod: config.alphaMethod, budgets: config.budgets, eps: config.eps, constS: cell === 'const' ? config.model.constS : undefined });
      const seconds = (performance.now() - started) / 1000;
      result.cells.push({ cell, seconds, stats });
      $('rows').insertAdjacentHTML('beforeend', tableRow(stats, seconds));
      const figure = document.createElement('div');
      $('figures').append(figure);
      await envelopeFigure(stats, figure);
    }
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
