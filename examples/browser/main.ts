// Browser page: lwin's matmul on navigator.gpu, from the same sources Node and Deno run, checked against the
// float64 reference. Options come from the query string (?shape=2x19x13x70&seed=1&strategy=tiled&transposeB&bias).
// The result is shown on the page and left on window.lwinResult (window.lwinError on failure) for tests.
import { acquireDevice, type AcquiredDevice } from '../../src/gpu/device.ts';
import { describeComparison } from '../../src/reference/compare.ts';
import { formatShape, parseSmokeRequest, runMatmulSmoke, type SmokeResult } from '../../src/doctor/smoke.ts';

declare global {
  interface Window {
    lwinResult?: SmokeResult;
    lwinError?: string;
  }
}

function show(id: string, text: string): void {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

function showResult(result: SmokeResult): void {
  const { variant } = result;
  show('status', result.ok ? 'ok' : `FAIL: ${result.mismatches} of ${result.count} values outside tolerance`);
  show('runtime', result.runtimeVersion);
  show('adapter', result.adapter);
  show('shape', formatShape(result.shape));
  show('variant', `${variant.strategy}${variant.transposeB ? ', Bᵀ' : ''}${variant.bias ? ', +bias' : ''}`);
  show('seed', String(result.seed));
  show('max-error', result.maxAbsError.toExponential(3));
  show('worst', describeComparison('matmul', result));
  document.body.dataset.state = result.ok ? 'ok' : 'fail';
}

function showError(message: string): void {
  show('status', 'error');
  const pre = document.getElementById('error');
  if (pre) {
    pre.textContent = message;
    pre.hidden = false;
  }
  document.body.dataset.state = 'error';
}

async function run(): Promise<SmokeResult> {
  const params = new URLSearchParams(location.search);
  const request = parseSmokeRequest((name) => params.get(name) ?? undefined);
  show('shape', formatShape(request.shape));
  let acquired: AcquiredDevice | undefined;
  try {
    acquired = await acquireDevice();
    show('adapter', acquired.adapter.name);
    return await runMatmulSmoke(acquired, request);
  } finally {
    acquired?.release();
  }
}

run().then(
  (result) => {
    showResult(result);
    window.lwinResult = result;
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    showError(message);
    window.lwinError = message;
  },
);
