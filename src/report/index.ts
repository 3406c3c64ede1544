// `lwin report <dir>`: one self-contained HTML page (inline SVG and CSS, no scripts, no network) for a study or a
// sweep folder. In order: load the folder (load.ts), build each figure family's vega-lite spec (figures/*.ts),
// render them to SVG and assemble the page (render.ts, tables.ts), write it atomically.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import writeFileAtomic from 'write-file-atomic';
import { writingTo } from '../io/output-path.ts';
import { STUDY_FILES } from '../io/study-files.ts';
import { loadReportInput, type StudyReport, type SweepReport } from './load.ts';
import type { Figure } from './figures/common.ts';
import { sweepBandFigures } from './figures/sweep.ts';
import { LEARNED_HEADING, studyFigureSections } from './sections.ts';

export { studyFigureSections };
import { escapeHtml, figureHtml, pageHtml, type PageSection } from './render.ts';
import { adapterTable, configTable, learnedTable, profileTable, timingTable } from './tables.ts';

export interface ReportOptions {
  /** Where to write the page; default `<dir>/report.html`. */
  out?: string;
  /** Page title; default names the folder. */
  title?: string;
}

async function sectionsOf(groups: { heading: string; figures: Figure[] }[]): Promise<PageSection[]> {
  const sections: PageSection[] = [];
  // One figure at a time: vega views are cheap, and the order of errors stays that of the page.
  for (const group of groups) {
    const parts: string[] = [];
    for (const figure of group.figures) parts.push(await figureHtml(figure));
    sections.push({ heading: group.heading, html: parts.join('\n') });
  }
  return sections;
}

function runSection(study: StudyReport, withLearned = false): PageSection {
  const tables = [...(withLearned ? [learnedTable(study)] : []), configTable(study), adapterTable(study), timingTable(study), profileTable(study)];
  return { heading: 'Run: configuration, adapter and timings', html: tables.join('\n') };
}

async function studyPage(study: StudyReport, title: string): Promise<string> {
  const figureSections = await sectionsOf(studyFigureSections(study));
  // The learned-vs-learnable table opens its own section; without lag recovery, its note goes to the run section.
  const learned = figureSections.find((s) => s.heading === LEARNED_HEADING);
  if (learned) learned.html = `${learnedTable(study)}\n${learned.html}`;
  const sections = [...figureSections, runSection(study, !learned)];
  const intro = `Study folder <code>${escapeHtml(resolve(study.dir))}</code>; cells ${escapeHtml(study.cells.map((c) => c.cell).join(', '))}.`;
  return pageHtml(title, intro, sections);
}

async function sweepPage(sweep: SweepReport, title: string): Promise<string> {
  const sections = await sectionsOf([{ heading: 'Across seeds (mean ± std)', figures: sweepBandFigures(sweep.aggregate, sweep.seeds) }]);
  if (sweep.first) {
    const seed = sweep.seeds[0]!;
    const groups = studyFigureSections(sweep.first).map((g) => ({ ...g, heading: `${g.heading} — ${seed}` }));
    sections.push(...(await sectionsOf(groups)), { ...runSection(sweep.first, true), heading: `Run ${seed}: configuration, adapter and timings` });
  }
  const intro = `Sweep folder <code>${escapeHtml(resolve(sweep.dir))}</code>; ${sweep.seeds.length} runs (${escapeHtml(sweep.seeds.join(', '))}); ` +
    `cells ${escapeHtml(sweep.aggregate.map((c) => c.cell).join(', '))}.` + (sweep.first ? ` Below the bands, the first run (${escapeHtml(sweep.seeds[0]!)}) in full.` : '');
  return pageHtml(title, intro, sections);
}

/** Writes the report of a study or sweep folder and returns its path. */
export async function writeReport(dir: string, options: ReportOptions = {}): Promise<string> {
  const input = await loadReportInput(dir);
  const title = options.title ?? `lwin ${input.kind} report: ${resolve(dir)}`;
  const html = input.kind === 'study' ? await studyPage(input, title) : await sweepPage(input, title);
  const out = options.out ?? join(dir, STUDY_FILES.report);
  await writeFileAtomic(out, html);
  return out;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML report (inline SVG figures, tables) for a study or sweep folder')
    .argument('<dir>', 'the --out folder of `lwin run` (a study) or `lwin sweep` (seed_*/ and aggregate/)')
    .option('--out <file>', 'where to write the page (default <dir>/report.html)')
    .option('--title <text>', 'page title')
    .action(async (dir: string, flags: { out?: string; title?: string }) => {
      const target = flags.out ?? join(dir, STUDY_FILES.report);
      const path = await writingTo(target, () => writeReport(dir, flags), flags.out ? '--out' : 'the report file', 'file');
      console.log(`lwin report: ${path}`);
    });
}
