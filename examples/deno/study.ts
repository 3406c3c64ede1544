// A whole lwin study from Deno: `lwin run`'s study (src/study/run.ts: the study pipeline with the file-system storage,
// through Deno's node:fs) on Deno's navigator.gpu. Usage:
//   npx deno run -A --node-modules-dir=manual examples/deno/study.ts --out DIR [--config study.json]
// The config holds study settings over the quick preset (e.g. a tiny size for CI). Prints one JSON line
// {runtime, adapter, out, cells, seconds}.
import { acquireDevice } from '../../src/gpu/device.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { runStudy } from '../../src/study/run.ts';

declare const Deno: { args: string[]; readTextFile(path: string): Promise<string>; exit(code: number): never };

function option(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const out = option('out');
if (!out) {
  console.error('usage: study.ts --out DIR [--config study.json]');
  Deno.exit(2);
}
const file = option('config');
const config = resolveStudy('quick', file ? JSON.parse(await Deno.readTextFile(file)) : {}, file ?? 'the study configuration');
const acquired = await acquireDevice();
const started = performance.now();
try {
  const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true });
  const cells = await runStudy(ctx, config, out, { adapter: acquired.adapter });
  console.log(JSON.stringify({ runtime: acquired.adapter.runtimeVersion, adapter: acquired.adapter.name, out, cells: cells.map((c) => c.cell), seconds: (performance.now() - started) / 1000 }));
} finally {
  acquired.release();
}
