// `npm run bench [-- kernels|cells|diagnostics|stats]`: throughput, per-kernel GPU time and peak memory on the adapter at hand,
// printed with its name. Set LWIN_BENCH_PAPER=1 to include the paper's size on a software adapter.
import { acquireDevice, GpuContext } from '../src/gpu/index.ts';
import { benchKernels, REPEATS } from './kernels.ts';
import { benchCells, type CellBenchSize } from './cells.ts';
import { benchStats } from './stats.ts';
import { benchDiagnostics } from './diagnostics.ts';

const only = process.argv[2];
const acquired = await acquireDevice();
try {
  const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true });
  console.log(`lwin bench on ${acquired.adapter.name} (${acquired.adapter.runtimeVersion}), ${REPEATS} repeats, profile: ${ctx.profiler!.source}\n`);
  if (!only || only === 'kernels') await benchKernels(ctx);
  if (!only || only === 'cells') {
    const sizes: CellBenchSize[] = [{ batch: 64, steps: 256, hidden: 64, input: 16 }];
    if (!acquired.adapter.isFallbackAdapter || process.env.LWIN_BENCH_PAPER === '1') sizes.push({ batch: 512, steps: 1024, hidden: 128, input: 16 });
    else console.log('(paper size B=512 T=1024 H=128 D=16 skipped on a software adapter; LWIN_BENCH_PAPER=1 runs it)\n');
    await benchCells(ctx, sizes, Math.max(1, Math.min(REPEATS, 2)));
  }
  if (!only || only === 'diagnostics') await benchDiagnostics(ctx);
  if (!only || only === 'stats') benchStats();
} finally {
  acquired.release();
}
