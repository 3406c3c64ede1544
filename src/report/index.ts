// `lwin report <dir>`: one self-contained HTML page (inline SVG and CSS, no scripts, no network) for a study or a
// sweep folder. In order: load the folder (load.ts), build each figure family's vega-lite spec (figures/*.ts),
// render them to SVG and assemble the page (render.ts, tables.ts), write it atomically.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import writeFileAtomic from 'write-file-atomic';
import { writingTo } from '../io/output-path.ts';
import { STUDY_FILES } from '../io/study-files.ts';
import { loadReportInput } from './load.ts';
import { studyFigureSections } from './sections.ts';
import { studyPage, sweepPage } from './page.ts';

export { studyFigureSections };

export interface ReportOptions {
  /** Where to write the page; default `<dir>/report.html`. */
  out?: string;
  /** Page title; default names the folder. */
  title?: string;
}

/** Writes the report of a study or sweep folder and returns its path. */
export async function writeReport(dir: string, options: ReportOptions = {}): Promise<string> {
  const input = await loadReportInput(dir);
  const title = options.title ?? `lwin ${input.kind} report: ${resolve(dir)}`;
  const html = input.kind === 'study' ? await studyPage(input, title, resolve(dir)) : await sweepPage(input, title, resolve(dir));
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
