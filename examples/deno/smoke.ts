// Deno smoke check: lwin's matmul, from the same sources Node runs, on Deno's navigator.gpu, against the float64
// reference. Prints one JSON line (see SmokeResult in src/doctor/smoke.ts).
//
//   npx deno run --allow-env=NODE_ENV --node-modules-dir=manual examples/deno/smoke.ts \
//     [--shape=2x19x13x70] [--seed=1] [--strategy=tiled|direct] [--transposeB] [--bias]
//
// --allow-env=NODE_ENV: typegpu reads process.env.NODE_ENV at import. --node-modules-dir=manual: npm packages come
// from the checkout's node_modules (installed by npm), and Deno never writes there. WebGPU is stable in Deno 2, so
// no --unstable-webgpu. Exit status: 0 all values within tolerance, 1 mismatch, 2 could not run.
import { acquireDevice } from '../../src/gpu/device.ts';
import { parseSmokeRequest, runMatmulSmoke } from '../../src/doctor/smoke.ts';

declare const Deno: { args: string[]; exit(code: number): never };

/** `--name=value` and bare `--name` (an empty value, read as true by flags). */
function parseArgs(args: string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (const arg of args) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument '${arg}'; options look like --shape=2x19x13x70 or --bias`);
    options.set(match[1]!, match[2] ?? '');
  }
  return options;
}

async function main(): Promise<number> {
  const options = parseArgs(Deno.args);
  const request = parseSmokeRequest((name) => options.get(name));
  const acquired = await acquireDevice();
  try {
    const result = await runMatmulSmoke(acquired, request);
    console.log(JSON.stringify(result));
    return result.ok ? 0 : 1;
  } finally {
    acquired.release();
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(`lwin deno smoke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  Deno.exit(2);
}
