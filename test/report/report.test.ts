// `lwin report`: a study folder written by the study writers (synthetic diagnostics, test/study) and a sweep folder
// (two copies of it plus their aggregate) become one self-contained HTML page with the expected figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeDiagnostics } from '../../src/study/statistics.ts';
import { writeCellOutputs, writeStudyJson, writeStudySummary } from '../../src/study/outputs.ts';
import { aggregateRuns, writeAggregate } from '../../src/study/aggregate.ts';
import { PAPER_BUDGETS } from '../../src/stats/detectability.ts';
import { writeReport } from '../../src/report/index.ts';
import { detectabilityThreshold } from '../../src/report/figures/detectability.ts';
import { OKABE_ITO } from '../../src/report/figures/common.ts';
import { loadStudy } from '../../src/report/load.ts';
import { learningCurveFigure } from '../../src/report/figures/training.ts';
import { syntheticDiagnostics } from '../study/synthetic-diagnostics.ts';

const CONFIG = { cells: ['const', 'gru'], epochs: 3, optimizer: { name: 'adamw', lr: 0.005 }, eps: 0.1 };
const ADAPTER = { vendor: 'test-vendor', device: 'test-device' };
let root = '';

async function writeStudy(dir: string, options: { trajectory: boolean; transport: boolean; recovery?: boolean }): Promise<void> {
  const analyze = { alphaMethod: 'ecf' as const, budgets: PAPER_BUDGETS, eps: 0.1, constS: 0.05 };
  const cells = [];
  for (const [cell, seed] of [['const', 7], ['gru', 11]] as const) {
    const diagnostics = syntheticDiagnostics(cell, seed);
    if (!options.transport) {
      delete diagnostics.transport;
      diagnostics.perLag.forEach((lag) => delete lag.exact);
    }
    const stats = analyzeDiagnostics(diagnostics, analyze);
    await writeCellOutputs(dir, cell, stats, diagnostics);
    const curve = ['epoch,train_loss,train_acc,val_loss,val_acc', '1,1.0,0.0,1.1,-0.1', '2,0.7,0.3,0.8,0.2', '3,0.5,0.5,0.6,nan'];
    await writeFile(join(dir, cell, `${cell}_learning_curve.csv`), `${curve.join('\n')}\n`);
    if (options.trajectory && cell === 'gru') {
      const rows = [1, 3].flatMap((epoch) => [4, 12, 20].map((ell) => `${epoch},${ell},${Math.exp(-ell / (10 * epoch))},${-ell / (10 * epoch)},1,1,5,1`));
      await writeFile(join(dir, cell, `${cell}_trajectory.csv`), `epoch,ell,mu_l1_mean,log_mu_l1_mean,generalized_mean,eta_bar,tau_median,tau_finite_fraction\n${rows.join('\n')}\n`);
    }
    let learned;
    if (options.recovery) {
      // Task lags 3 (c = 0.5) and 9 (c = 0.25): lag 3 reaches half its coefficient at epoch 2, lag 9 never.
      const rows = [1, 2, 3].flatMap((epoch) => Array.from({ length: 12 }, (_, i) => {
        const ell = i + 1;
        const coeff = ell === 3 ? 0.5 : ell === 9 ? 0.25 : 0;
        return `${epoch},${ell},${(coeff * epoch) / 3},${coeff}`;
      }));
      await writeFile(join(dir, cell, `${cell}_lag_recovery.csv`), `epoch,ell,c_hat,c_true\n${rows.join('\n')}\n`);
      learned = [
        { lag: 3, coeff: 0.5, windowAtN: 6, insideWindow: true, learnedAtEpoch: 2, finalCHat: 0.5 },
        { lag: 9, coeff: 0.25, windowAtN: 6, insideWindow: false, learnedAtEpoch: null, finalCHat: 0.25 },
      ];
    }
    cells.push({ cell, stats, timings: { train: 1.5, diagnostics: 0.5, statistics: 0.25 }, ...(learned && { learned }) });
  }
  await writeStudySummary(dir, cells, CONFIG);
  const profile = { source: 'timestamp-query', totalMs: 10, kernels: [{ name: 'forward_gru', calls: 3, totalMs: 6, meanUs: 2000, share: 0.6 }] };
  await writeStudyJson(dir, { lwin: '0.1.0', config: CONFIG, adapter: ADAPTER, seconds: 4.5, cells, profile });
}

const svgCount = (html: string) => (html.match(/<svg/g) ?? []).length;
const figureIds = (html: string) => [...html.matchAll(/<figure id="([^"]+)"/g)].map((m) => m[1]);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lwin-report-'));
  await writeStudy(join(root, 'study'), { trajectory: true, transport: true });
  await writeStudy(join(root, 'bare'), { trajectory: false, transport: false });
  await writeStudy(join(root, 'learned'), { trajectory: false, transport: true, recovery: true });
  const sweep = join(root, 'sweep');
  await mkdir(sweep);
  await cp(join(root, 'study'), join(sweep, 'seed_1'), { recursive: true });
  await cp(join(root, 'bare'), join(sweep, 'seed_2'), { recursive: true });
  await writeAggregate(sweep, await aggregateRuns([join(sweep, 'seed_1'), join(sweep, 'seed_2')]));
  await mkdir(join(root, 'not-a-study'));
  await writeFile(join(root, 'not-a-study', 'notes.txt'), 'hello\n');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const STUDY_FIGURES = [
  'envelope-overview', 'envelope-const', 'envelope-gru', 'windows', 'threshold', 'n-required', 'alpha', 'sigma',
  'tau-ccdf', 'tau-histogram', 'exact-transport', 'generalized', 'learning-curves', 'trajectory',
];

describe('writeReport on a study folder', () => {
  let html = '';
  let path = '';
  beforeAll(async () => {
    path = await writeReport(join(root, 'study'));
    html = await readFile(path, 'utf8');
  });

  it('writes <dir>/report.html, one page with every figure as inline SVG', () => {
    expect(path).toBe(join(root, 'study', 'report.html'));
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(figureIds(html)).toEqual(STUDY_FIGURES);
    expect(svgCount(html)).toBe(STUDY_FIGURES.length);
    expect(html).not.toContain('Not drawn');
  });

  it('is self-contained: no scripts, no links other than the SVG/XML namespaces', () => {
    expect(html).not.toMatch(/<script/i);
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]*/g)].map((m) => m[0]);
    const allowed = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']);
    expect(urls.filter((u) => !allowed.has(u))).toEqual([]);
    expect(html).not.toMatch(/(src|href)="(?!#)/);
  });

  it('titles each figure, with R² of both fits and the transport agreement', () => {
    for (const title of ['Envelope f̂(ℓ) of gru with exponential and power-law fits', 'Learnability window Ĥ_N against the sample budget N',
      'Time-scale spectrum: CCDF of the per-unit τ', 'Tail index α̂ of ψ across lags, per cell', 'Exact against first-order envelope', 'Learning curves']) {
      expect(html, title).toContain(title);
    }
    expect(html).toMatch(/exponential fit, R² = [0-9.]+/);
    expect(html).toMatch(/power-law fit, R² = [0-9.]+/);
    expect(html).toContain('Spearman 1, Pearson (log) 0.99');
  });

  it('reads the reference\'s columns: R² from train_acc/val_acc, the preferred regime from envelope_fits.json\'s lwin key', async () => {
    const study = await loadStudy(join(root, 'study'));
    const gru = study.cells.find((c) => c.cell === 'gru')!;
    expect(gru.learningCurve!.map((r) => [r.train_acc, r.val_acc])).toEqual([[0, -0.1], [0.3, 0.2], [0.5, NaN]]);
    expect(gru.envelopeFits?.preferred).toBe('exponential');
    const figure = learningCurveFigure(study.cells, ['const', 'gru']);
    const r2 = (figure.spec as { data: { values: { r2: number }[] } }).data.values.map((v) => v.r2);
    expect(r2.filter(Number.isFinite)).toHaveLength(2 * 2 * 3 - 2); // two cells × two splits × three epochs, less the two nan
    expect(html).toContain('preferred: exponential');
  });

  it('gives each cell the same Okabe–Ito colour in every figure', () => {
    expect(html).toContain(OKABE_ITO[0]);
    expect(html).toContain(OKABE_ITO[1]);
  });

  it('tabulates the configuration, adapter, stage timings and kernel profile', () => {
    expect(html).toContain('Configuration (cli_args.csv)');
    expect(html).toContain('<td>lr</td><td>0.005</td>'); // the reference's argument name (cli_args.csv)
    expect(html).toContain('test-device');
    expect(html).toContain('Stage timings (seconds)');
    expect(html).toContain('<td>forward_gru</td>');
  });
});

describe('writeReport with optional inputs missing', () => {
  it('omits the transport, trajectory figures with a note instead', async () => {
    const html = await readFile(await writeReport(join(root, 'bare'), { out: join(root, 'bare.html') }), 'utf8');
    const omitted = ['exact-transport', 'trajectory'];
    expect(figureIds(html)).toEqual(STUDY_FIGURES.filter((id) => !omitted.includes(id)));
    expect(svgCount(html)).toBe(STUDY_FIGURES.length - omitted.length);
    expect(html).toContain('Not drawn: the study computed no exact transport');
    expect(html).toContain('Not drawn: no &lt;cell&gt;_trajectory.csv');
  });
});

describe('writeReport on a study that tracked the lag recovery (SPEC §12)', () => {
  it('opens a section with the learned-vs-learnable table, then a ĉ(ℓ) heat map per cell and the time to learn', async () => {
    const html = await readFile(await writeReport(join(root, 'learned'), { out: join(root, 'learned.html') }), 'utf8');
    const section = html.slice(html.indexOf('<h2>What is actually learned</h2>'), html.indexOf('<h2>Run: configuration'));
    expect(section.length).toBeGreaterThan(0);
    expect(figureIds(section)).toEqual(['recovery-const', 'recovery-gru', 'time-to-learn']);
    expect(svgCount(section)).toBe(3);
    // The table comes first, with one row per cell and task lag.
    expect(section.indexOf('Learned against learnable')).toBeLessThan(section.indexOf('<figure'));
    for (const cell of ['const', 'gru']) {
      expect(section).toMatch(new RegExp(`<td>${cell}</td><td>3</td><td>0\\.5</td><td>yes \\(Ĥ = 6\\)</td><td>2</td><td>0\\.5</td><td>consistent</td>`));
      expect(section).toMatch(new RegExp(`<td>${cell}</td><td>9</td><td>0\\.25</td><td>no \\(Ĥ = 6\\)</td><td>never</td>`));
    }
    // Each heat map marks the task lags with their coefficients and the window.
    const heat = section.slice(section.indexOf('id="recovery-gru"'), section.indexOf('id="time-to-learn"'));
    for (const label of ['ℓ=3, c=0.5', 'ℓ=9, c=0.25', 'Ĥ_N = 6']) expect(heat).toContain(label);
    // The run section no longer repeats the table.
    expect(html.slice(html.indexOf('<h2>Run: configuration'))).not.toContain('Learned against learnable');
  });
});

describe('writeReport on a sweep folder', () => {
  it('draws the mean ± std bands from aggregate/, then the first run in full', async () => {
    const html = await readFile(await writeReport(join(root, 'sweep')), 'utf8');
    const ids = figureIds(html);
    expect(ids[0]).toBe('sweep-bands');
    expect(html).toContain('Across seeds: mean ± std (2 runs)');
    expect(ids.slice(1)).toEqual(STUDY_FIGURES);
    expect(svgCount(html)).toBe(1 + STUDY_FIGURES.length);
  });
});

describe('writeReport refuses what is not a study', () => {
  it('names the folder and what it expected', async () => {
    await expect(writeReport(join(root, 'not-a-study'))).rejects.toThrow(/not-a-study is not a study or sweep folder: it has no H_N_summary.csv/);
    await expect(writeReport(join(root, 'missing'))).rejects.toThrow(/is not a folder/);
  });
});

describe('detectabilityThreshold (SPEC §8)', () => {
  it('is the m̄ at which SNR = ε', () => {
    const cases = [{ eps: 0.1, sigma: 2, alpha: 1.5, n: 400 }, { eps: 0.1, sigma: 1, alpha: 2, n: 100 }, { eps: 0.5, sigma: 3, alpha: 0.8, n: 50 }];
    for (const c of cases) {
      const threshold = detectabilityThreshold(c.eps, c.sigma, c.alpha, c.n)!;
      const snr = (threshold * c.n ** (1 - 1 / Math.max(1, c.alpha))) / c.sigma;
      expect(snr, JSON.stringify(c)).toBeCloseTo(c.eps, 12);
    }
    expect(detectabilityThreshold(0.1, 0, 1.5, 100)).toBeUndefined();
  });
});

describe('lwin report --out: a path that cannot take the page', () => {
  const report = async (...args: string[]) => {
    const { Command } = await import('commander');
    const { registerReport } = await import('../../src/report/index.ts');
    const program = new Command().exitOverride();
    registerReport(program);
    await program.parseAsync(['node', 'lwin', 'report', ...args]);
  };
  it('a folder: says it must name a file, suggesting one inside it', async () => {
    const folder = join(root, 'not-a-study');
    await expect(report(join(root, 'bare'), '--out', folder)).rejects.toThrow(
      `--out ${folder} is a folder, but it must name the file to write; give a file name, e.g. --out ${join(folder, 'report.html')}`,
    );
  });
  it('a file in a folder that does not exist: names that folder', async () => {
    const page = join(root, 'no-such-folder', 'page.html');
    await expect(report(join(root, 'bare'), '--out', page)).rejects.toThrow(`cannot write to --out ${page}: the folder ${join(root, 'no-such-folder')} does not exist`);
  });
});
