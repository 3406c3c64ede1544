// The report page of a study or a sweep, as an HTML string: the figure sections (sections.ts, render.ts), the
// tables (tables.ts). No file system: `lwin report` (index.ts) reads the folder and writes the page; the library's
// report() (src/api/study.ts) reads an in-memory study.
import type { StudyReport, SweepReport } from './load.ts';
import type { Figure } from './figures/common.ts';
import { sweepBandFigures } from './figures/sweep.ts';
import { LEARNED_HEADING, studyFigureSections } from './sections.ts';
import { escapeHtml, figureHtml, pageHtml, type PageSection } from './render.ts';
import { adapterTable, configTable, learnedTable, profileTable, timingTable } from './tables.ts';

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

export async function studyPage(study: StudyReport, title: string, shownDir = study.dir): Promise<string> {
  const figureSections = await sectionsOf(studyFigureSections(study));
  // The learned-vs-learnable table opens its own section; without lag recovery, its note goes to the run section.
  const learned = figureSections.find((s) => s.heading === LEARNED_HEADING);
  if (learned) learned.html = `${learnedTable(study)}\n${learned.html}`;
  const sections = [...figureSections, runSection(study, !learned)];
  const intro = `Study folder <code>${escapeHtml(shownDir)}</code>; cells ${escapeHtml(study.cells.map((c) => c.cell).join(', '))}.`;
  return pageHtml(title, intro, sections);
}

export async function sweepPage(sweep: SweepReport, title: string, shownDir = sweep.dir): Promise<string> {
  const sections = await sectionsOf([{ heading: 'Across seeds (mean ± std)', figures: sweepBandFigures(sweep.aggregate, sweep.seeds) }]);
  if (sweep.first) {
    const seed = sweep.seeds[0]!;
    const groups = studyFigureSections(sweep.first).map((g) => ({ ...g, heading: `${g.heading} — ${seed}` }));
    sections.push(...(await sectionsOf(groups)), { ...runSection(sweep.first, true), heading: `Run ${seed}: configuration, adapter and timings` });
  }
  const intro = `Sweep folder <code>${escapeHtml(shownDir)}</code>; ${sweep.seeds.length} runs (${escapeHtml(sweep.seeds.join(', '))}); ` +
    `cells ${escapeHtml(sweep.aggregate.map((c) => c.cell).join(', '))}.` + (sweep.first ? ` Below the bands, the first run (${escapeHtml(sweep.seeds[0]!)}) in full.` : '');
  return pageHtml(title, intro, sections);
}
