// Worked example (SPEC §12): in which order does a linear RNN trained from small weights learn the lags of the
// multi-lag task, as their coefficients and lags vary? One lwin study per task variant (order.json), each with lag
// recovery every epoch; then the epoch at which each task lag was learned (ĉ(ℓ_k) ≥ c_k/2), one CSV and one figure.
//
//   npx tsx examples/linear-order/run.ts [--config examples/linear-order/order.json] [--out lwin-out/linear-order] [--resume]
//
// Writes <out>/<variant>/ (a complete study each: study.json, report.html, linear/linear_lag_recovery.csv, ...),
// <out>/order.csv (variant, lag, coeff, learned_at_epoch, inside_window) and <out>/order.svg.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { acquireDevice } from '../../src/gpu/device.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { runStudy } from '../../src/study/run.ts';
import { progressOn } from '../../src/study/pipeline.ts';
import { renderSvg } from '../../src/report/render.ts';
import { loadStudy } from '../../src/report/load.ts';
import { terminalProgress } from '../../src/train/progress.ts';
import { orderFigure, type LearnedPoint, type RecoveryCurve } from './figure.ts';

const OrderFile = z
  .object({
    /** Study settings shared by every variant, over the quick preset. */
    base: z.record(z.string(), z.unknown()),
    /** One study per variant: a name and the task fields it changes (lags, coeffs, ...). */
    variants: z.array(z.object({ name: z.string().regex(/^[\w-]+$/, 'a folder name: letters, digits, _ and -'), title: z.string(), task: z.record(z.string(), z.unknown()) }).strict()).min(1),
  })
  .strict();

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string', default: join(import.meta.dirname, 'order.json') },
    out: { type: 'string', default: join('lwin-out', 'linear-order') },
    resume: { type: 'boolean', default: false },
  },
});

const parsed = OrderFile.safeParse(JSON.parse(await readFile(flags.config!, 'utf8')));
if (!parsed.success) throw new Error(`${flags.config} is not valid:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
const plan = parsed.data;
// Every study is validated before any training starts.
const studies = plan.variants.map((v) => ({
  variant: v,
  config: resolveStudy('quick', { ...plan.base, task: { ...(plan.base.task as object), ...v.task } }, `${flags.config} variant '${v.name}'`),
}));
for (const { variant, config } of studies) {
  if (!config.trackEvery) throw new Error(`variant '${variant.name}': set trackEvery (lag recovery is recorded only with it)`);
}

const acquired = await acquireDevice();
const curves: RecoveryCurve[] = [];
const learned: LearnedPoint[] = [];
const rows: string[] = ['variant,lag,coeff,learned_at_epoch,inside_window,final_c_hat'];
try {
  const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
  for (const { variant, config } of studies) {
    const dir = join(flags.out!, variant.name);
    console.log(`${variant.name}: ${variant.title} → ${dir}`);
    const [record] = await runStudy(ctx, config, dir, {
      resume: flags.resume, adapter: acquired.adapter, progress: progressOn(terminalProgress, (line) => console.log(`  ${line}`)),
    });
    for (const r of record!.learned ?? []) {
      rows.push([variant.name, r.lag, r.coeff, r.learnedAtEpoch ?? '', r.insideWindow ? 1 : 0, r.finalCHat ?? ''].join(','));
      console.log(`  lag ${String(r.lag).padStart(3)}  c = ${r.coeff.toFixed(2)}  learned at epoch ${r.learnedAtEpoch ?? 'never'}`);
      if (r.learnedAtEpoch !== null) learned.push({ variant: variant.title, lag: r.lag, coeff: r.coeff, epoch: r.learnedAtEpoch });
    }
    // The ĉ(ℓ_k) curves of the task lags, read back as the report reads them.
    const [cell] = (await loadStudy(dir)).cells;
    for (const r of cell!.recovery ?? []) {
      if (r.c_true) curves.push({ variant: variant.title, epoch: r.epoch!, lag: r.ell!, coeff: r.c_true, fraction: r.c_hat! / r.c_true });
    }
  }
} finally {
  acquired.release();
}
await writeFileAtomic(join(flags.out!, 'order.csv'), `${rows.join('\n')}\n`);
await writeFileAtomic(join(flags.out!, 'order.svg'), await renderSvg(orderFigure(curves, learned, plan.variants.map((v) => v.title))));
console.log(`wrote ${join(flags.out!, 'order.csv')} and ${join(flags.out!, 'order.svg')}`);
