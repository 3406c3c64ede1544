// The browser study page (examples/browser/study.html) runs a tiny study in headless Chromium; its numbers are
// compared with the same study run here in Node. Chromium computes on SwiftShader (it blocklists lavapipe), Node on
// lavapipe: two f32 implementations whose last-bit differences grow through training, so envelopes are held to
// 1e-3 relative; observed differences on these two cells are far below that.
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { buildBrowserExample } from '../../examples/browser/build.mjs';
import { launchChromium, serveDirectory } from '../../examples/browser/harness.mjs';
import { resolveStudy } from '../../src/study/config.ts';
import { runStudy } from '../../src/study/run.ts';

const gpu = useGpu();
export const TINY_STUDY = {
  cells: ['const', 'gru'],
  task: { steps: 32, inputSize: 3, lags: [2, 4, 8], coeffs: [0.6, 0.5, 0.4], noiseStd: 0.3, seed: 5 },
  trainSequences: 64, diagSequences: 24, model: { hidden: 8 }, epochs: 2, batch: 32,
  lagGrid: { min: 1, max: 16, num: 8 }, transportSamples: 2, psiSubsample: 600,
};

interface PageStudy {
  adapter: string;
  cells: { cell: string; stats: { lags: { ell: number; muL1Mean: number }[]; windows: { budget: number; window: number }[] } }[];
}

describe('a study in the browser', () => {
  it('runs in headless Chromium and agrees with Node', async () => {
    const { outdir } = await buildBrowserExample();
    const server = await serveDirectory(outdir);
    const browser = await launchChromium();
    const out = await mkdtemp(path.join(tmpdir(), 'lwin-browser-study-'));
    try {
      const page = await browser.newPage();
      const log: string[] = [];
      page.on('console', (m) => log.push(m.text()));
      await page.goto(`${server.origin}/study.html?config=${encodeURIComponent(JSON.stringify(TINY_STUDY))}`);
      await page.waitForFunction(() => (window as unknown as { lwinStudy?: unknown; lwinError?: string }).lwinStudy !== undefined || (window as unknown as { lwinError?: string }).lwinError !== undefined, undefined, { timeout: 240_000, polling: 250 });
      const { study, error } = await page.evaluate(() => ({ study: (window as unknown as { lwinStudy?: PageStudy }).lwinStudy, error: (window as unknown as { lwinError?: string }).lwinError }));
      expect(error, log.join('\n')).toBeUndefined();
      expect(await page.locator('#figures svg').count()).toBeGreaterThanOrEqual(10); // the report's figures, drawn in the page
      expect(await page.locator('#download').isVisible()).toBe(true);

      const node = await runStudy(gpu.ctx, resolveStudy('quick', TINY_STUDY), out, { report: false });
      expect(study!.cells.map((c) => c.cell)).toEqual(['const', 'gru']);
      study!.cells.forEach((cell, i) => {
        const reference = node[i]!.stats;
        cell.stats.lags.forEach((lag, l) => {
          const expected = reference.lags[l]!.muL1Mean;
          expect(lag.ell).toBe(reference.lags[l]!.ell);
          expect(Math.abs(lag.muL1Mean - expected), `${cell.cell} f̂(${lag.ell}): browser ${lag.muL1Mean}, node ${expected}`).toBeLessThanOrEqual(1e-3 * expected);
        });
      });
    } finally {
      await browser.close();
      await server.close();
      await rm(out, { recursive: true, force: true });
    }
  });
});
