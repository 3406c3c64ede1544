// Turns vega-lite specs into inline SVG (vega's headless renderer, no DOM, no network) and assembles the one
// self-contained HTML page: inline CSS, no scripts, no external references.
import type { Figure, Spec } from './figures/common.ts';

// vega and vega-lite take a quarter of a second to load: loaded on the first figure, so that commands that draw
// none (`lwin --version`, `lwin train`) start at once.
let renderer: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;
const loadRenderer = () => (renderer ??= Promise.all([import('vega'), import('vega-lite')]));

/** The SVG text of a vega-lite spec. Loading is disabled, so a spec cannot reach the network or the disk. */
export async function renderSvg(spec: Spec): Promise<string> {
  const [vega, { compile }] = await loadRenderer();
  // Warnings of vega-lite (e.g. merged legends) are not the reader's concern; errors still throw.
  const runtime = vega.parse(compile(spec, { logger: vega.logger(vega.Error) }).spec);
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`report figures carry their data inline; refusing to load ${uri}`);
  };
  const view = new vega.View(runtime, { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A figure as HTML: its SVG and caption, or the note saying why it is left out. */
export async function figureHtml(figure: Figure): Promise<string> {
  if (!figure.spec) {
    return `<section class="figure omitted" id="${escapeHtml(figure.id)}"><h3>${escapeHtml(figure.title)}</h3><p class="note">Not drawn: ${escapeHtml(figure.note ?? 'no data')}</p></section>`;
  }
  let svg: string;
  try {
    svg = await renderSvg(figure.spec);
  } catch (error) {
    throw new Error(`report: figure '${figure.id}' (${figure.title}) failed to render: ${(error as Error).message}`);
  }
  return `<figure id="${escapeHtml(figure.id)}"><h3>${escapeHtml(figure.title)}</h3>${svg}<figcaption>${escapeHtml(figure.caption)}</figcaption></figure>`;
}

/** An HTML table; cells are escaped text. */
export function tableHtml(caption: string, header: readonly string[], rows: readonly (readonly string[])[], className = ''): string {
  const head = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${className}"><caption>${escapeHtml(caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const CSS = `
body { font-family: Helvetica, Arial, sans-serif; color: #111; margin: 2em auto; max-width: 1200px; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 0 0 0.3em; }
figure, section.figure { margin: 1.2em 0; page-break-inside: avoid; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.92em; color: #333; max-width: 60em; }
p.note { color: #8a4b00; font-style: italic; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; page-break-inside: avoid; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num, table.numeric td { text-align: right; font-variant-numeric: tabular-nums; }
nav ul { columns: 2; font-size: 0.9em; }
@media print { body { margin: 0; max-width: none; } nav { display: none; } h2 { page-break-before: auto; } }
`;

export interface PageSection {
  heading: string;
  html: string;
}

/** The whole page; every section's html is already escaped/rendered. */
export function pageHtml(title: string, intro: string, sections: readonly PageSection[]): string {
  const nav = sections.map((s, i) => `<li><a href="#section-${i}">${escapeHtml(s.heading)}</a></li>`).join('');
  const body = sections.map((s, i) => `<section id="section-${i}">\n<h2>${escapeHtml(s.heading)}</h2>\n${s.html}\n</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${intro}</p>
<nav><ul>${nav}</ul></nav>
${body}
</body>
</html>
`;
}
