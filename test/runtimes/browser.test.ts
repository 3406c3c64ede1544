// Headless Chromium runs lwin's matmul (bundled from the same sources) on navigator.gpu; the page's numbers must
// match the float64 reference computed here and Node's GPU element by element. Needs /usr/bin/chromium; when it is
// missing the test fails and says how to install it (it does not skip).
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMatmul } from '../../src/doctor/selftest.ts';
import { buildBrowserExample } from '../../examples/browser/build.mjs';
import { launchChromium, runPage, serveDirectory, type StaticServer } from '../../examples/browser/harness.mjs';
import { formatShape } from '../../src/doctor/smoke.ts';
import { useGpu } from '../support/gpu.ts';
import { RUNTIME_CASES, expectDescribes, expectMatchesNode, expectMatchesReference, requestOptions } from './agreement.ts';

const PAGE_TIMEOUT_MS = 90_000;

describe('Chromium runs the matmul from the same sources', () => {
  const gpu = useGpu();
  let server: StaticServer | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const { outdir } = await buildBrowserExample();
    server = await serveDirectory(outdir);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  function pageUrl(query: Record<string, string>): string {
    return `${server!.origin}/index.html?${new URLSearchParams(query)}`;
  }

  for (const testCase of RUNTIME_CASES) {
    it(`${testCase.name}: the page's values match the float64 reference and Node's GPU`, async () => {
      const run = await runPage(browser!, pageUrl(requestOptions(testCase)), { timeoutMs: PAGE_TIMEOUT_MS });
      try {
        expect(run.error, `window.lwinError\n${run.log.join('\n')}`).toBeUndefined();
        const result = run.result!;
        const values = expectDescribes(result, testCase, 'browser');
        expectMatchesReference('Chromium', values, result, testCase);

        // What a person sees: the same verdict, shape and adapter as the result object.
        expect(await run.page.textContent('#status')).toBe('ok');
        expect(await run.page.textContent('#shape')).toBe(formatShape(testCase.shape));
        expect(await run.page.textContent('#adapter')).toBe(result.adapter);
        expect(await run.page.textContent('#max-error')).toBe(result.maxAbsError.toExponential(3));

        const node = await checkMatmul(gpu.ctx, testCase.shape, testCase.variant, testCase.seed);
        expect(node.comparison.ok, `Node's own check of ${node.shape}`).toBe(true);
        const identical = expectMatchesNode('Chromium', values, node.values, testCase);
        console.info(`chromium ${testCase.name}: ${result.adapter}; max |error| ${result.maxAbsError.toExponential(2)}; ${identical}/${values.length} bit-identical to Node (${gpu.acquired.adapter.name})`);
      } finally {
        await run.page.close();
      }
    });
  }

  it('defaults to B=2 M=19 K=13 N=70, seed 1, tiled, without a query string', async () => {
    const run = await runPage(browser!, `${server!.origin}/`, { timeoutMs: PAGE_TIMEOUT_MS });
    try {
      expect(run.error, run.log.join('\n')).toBeUndefined();
      expect(run.result!.ok).toBe(true);
      expect(run.result!.shape).toEqual({ batch: 2, m: 19, k: 13, n: 70 });
      expect(run.result!.seed).toBe(1);
      expect(run.result!.variant).toEqual({ strategy: 'tiled', transposeB: false, bias: false });
    } finally {
      await run.page.close();
    }
  });

  it('reports a bad query on window.lwinError and on the page', async () => {
    const run = await runPage(browser!, pageUrl({ shape: '2x19x13' }), { timeoutMs: PAGE_TIMEOUT_MS });
    try {
      expect(run.result).toBeUndefined();
      expect(run.error).toContain('shape must be BxMxKxN');
      expect(await run.page.textContent('#status')).toBe('error');
      expect(await run.page.textContent('#error')).toContain('shape must be BxMxKxN');
    } finally {
      await run.page.close();
    }
  });
});

describe('without Chromium', () => {
  it('fails with install instructions instead of skipping', async () => {
    await expect(launchChromium({ executablePath: '/nonexistent/chromium' })).rejects.toThrow(/apt-get install chromium/);
  });
});
