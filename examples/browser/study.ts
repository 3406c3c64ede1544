// Browser page: a whole lwin study (train → diagnose → statistics → outputs) on the user's GPU, run by the same
// pipeline as `lwin run` (src/study/pipeline.ts) into an in-memory folder, with live progress, the report's figures
// redrawn as each cell finishes (read from that folder by the report's own loader), and a download of the files.
// Settings: ?config=<URL-encoded JSON over the quick preset> (default: the quick preset). The results are left on
// window.lwinStudy (window.lwinError on failure) for tests.
import { acquireDevice } from '../../src/gpu/device.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { resolveStudy, type StudyConfig } from '../../src/study/config.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { validationSize } from '../../src/data/dataset.ts';
import { runStudyPipeline, type CellRecord, type StudyEvent } from '../../src/study/pipeline.ts';
import type { CellStatistics } from '../../src/study/statistics.ts';
import { studySummaryFiles } from '../../src/study/outputs.ts';
import { joinPath, memoryStorage, readText } from '../../src/io/storage.ts';
import { STUDY_FILES } from '../../src/io/study-files.ts';
import { jsonText } from '../../src/study/format.ts';
import { loadStudy } from '../../src/report/load.ts';
import { studyFigureSections } from '../../src/report/sections.ts';
import { figureHtml } from '../../src/report/render.ts';

interface BrowserStudy {
  adapter: string;
  config: StudyConfig;
  cells: { cell: string; seconds: number; stats: CellStatistics }[];
  /** The study folder's text files (path under study/ → text), as `lwin run` writes them (the .safetensors stay out). */
  files: Record<string, string>;
}

declare global {
  interface Window {
    lwinStudy?: BrowserStudy;
  }
}

const $ = (id: string) => document.getElementById(id)!;
const OUT = 'study';

/**
 * Redraws the report's figures for the cells finished so far, from the in-memory study folder. The pipeline writes
 * the study's summary files and study.json once every cell is done, so until then they are made here for the cells
 * so far.
 */
async function drawFigures(storage: ReturnType<typeof memoryStorage>, config: StudyConfig, done: readonly CellRecord[]): Promise<void> {
  const partial = new Map([...studySummaryFiles(done, config), [STUDY_FILES.studyJson, jsonText({ config, cells: done })] as [string, string]].map(([name, text]) => [joinPath(OUT, name), text]));
  const study = await loadStudy(OUT, async (path) => (await readText(storage, path)) ?? partial.get(path));
  const parts: string[] = [];
  for (const section of studyFigureSections(study)) {
    parts.push(`<h2>${section.heading}</h2>`);
    for (const figure of section.figures) parts.push(await figureHtml(figure));
  }
  $('figures').innerHTML = parts.join('\n');
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

const seconds = (record: CellRecord) => Object.values(record.timings).reduce((sum, t) => sum + t, 0);

/** The page's view of the pipeline: the stage and epoch in the status line, a table row and figures per cell. */
function pageProgress(config: StudyConfig, onCell: (record: CellRecord) => void): (event: StudyEvent) => void {
  const status = (text: string) => ($('status').textContent = text);
  return (event) => {
    if (event.kind === 'stage') status(`${event.cell}: ${event.stage}…`);
    else if (event.kind === 'training' && event.phase === 'epoch') status(`${event.cell}: epoch ${event.epoch}/${config.epochs}, loss ${event.values.loss}`);
    else if (event.kind === 'cell') onCell(event.record);
  };
}

async function run(): Promise<BrowserStudy> {
  const query = new URLSearchParams(location.search).get('config');
  const config = resolveStudy('quick', query ? JSON.parse(query) : {}, 'the page\'s config');
  const task = new MultiLagTask(config.task);
  const training = { train: task.trainingSet(config.trainSequences), validation: (e: number) => task.validationSet(validationSize(config.batch), e) };
  const diagnostic = task.diagnosticSet(config.diagSequences);
  const acquired = await acquireDevice();
  $('adapter').textContent = acquired.adapter.name;
  const storage = memoryStorage();
  const done: CellRecord[] = [];
  let drawing = Promise.resolve();
  try {
    const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
    const progress = pageProgress(config, (record) => {
      done.push(record);
      $('rows').insertAdjacentHTML('beforeend', tableRow(record.stats, seconds(record)));
      const cells = [...done];
      drawing = drawing.then(() => drawFigures(storage, config, cells));
    });
    const records = await runStudyPipeline(ctx, config, { training, diagnostic }, storage, OUT, { adapter: acquired.adapter, progress });
    $('status').textContent = 'drawing…';
    await drawing;
    const files: Record<string, string> = {};
    for (const path of [...storage.files.keys()].sort()) {
      if (/\.(csv|json)$/.test(path)) files[path.slice(OUT.length + 1)] = (await readText(storage, path))!;
    }
    $('status').textContent = 'done';
    return { adapter: acquired.adapter.name, config, cells: records.map((r) => ({ cell: r.cell, seconds: seconds(r), stats: r.stats })), files };
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
