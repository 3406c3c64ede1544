// Whether independent training steps run side by side on the device: a recurrent kernel at the paper's size fills
// a small part of a large GPU (gru's 256 workgroups of 128 threads are ~12% of an H200's resident warps), so two
// models' batches submitted together could take less than the two apart. Four forms of one round, timed on the
// wall (each awaited, host recording included) in an order that rotates from round to round: cell A's batch alone,
// cell B's alone, both in one step one after the other, and both in one step interleaved op by op (Step.merge).
// overlap = (A + B) / both: 1 when the device runs them one after the other, up to 2 when fully side by side.
import type { GpuContext } from '../src/gpu/index.ts';
import type { Step } from '../src/gpu/step.ts';
import { buildLayout, cellLayerNorm, type CellKind } from '../src/model/index.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { ensureTile } from '../src/cells/autotune.ts';
import { stepBuffers, type CellBenchSize } from './cells.ts';
import { median } from './ab.ts';

export const OVERLAP_FORMS = ['alone A', 'alone B', 'one after the other', 'interleaved'] as const;
type Form = (typeof OVERLAP_FORMS)[number];

export interface OverlapResult {
  cells: [CellKind, CellKind];
  size: CellBenchSize;
  rounds: number;
  /** Median wall ms of each form. */
  ms: Record<Form, number>;
  /** (alone A + alone B) / each merged form. */
  overlap: { after: number; interleaved: number };
}

export async function benchOverlap(ctx: GpuContext, cells: [CellKind, CellKind], size: CellBenchSize, rounds: number): Promise<OverlapResult> {
  const { batch: B, steps: T, hidden: H, input: D } = size;
  const models = await Promise.all(
    cells.map(async (cell, i) => {
      const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
      await ensureTile(ctx, { cell, layernorm: layout.config.layernorm, hidden: H, input: D, batch: B });
      const buffers = stepBuffers(ctx, layout, B, T, `overlap-${i}`);
      return { layout, buffers, record: (step: Step) => recordBatchGradient(step, { layout, ...buffers, batch: B, steps: T }) };
    }),
  );
  const [a, b] = models as [(typeof models)[0], (typeof models)[0]];
  const forms: Record<Form, () => Step> = {
    'alone A': () => withRecorded(ctx.step('overlap A'), a.record),
    'alone B': () => withRecorded(ctx.step('overlap B'), b.record),
    'one after the other': () => withRecorded(ctx.step('overlap A, B'), a.record).merge([withRecorded(ctx.step('overlap B'), b.record)], 'after'),
    interleaved: () => withRecorded(ctx.step('overlap A | B'), a.record).merge([withRecorded(ctx.step('overlap B'), b.record)], 'interleaved'),
  };
  const times: Record<Form, number[]> = { 'alone A': [], 'alone B': [], 'one after the other': [], interleaved: [] };
  try {
    // Round 0 compiles and warms every form; it is not counted.
    for (let round = 0; round <= rounds; round++) {
      for (let k = 0; k < OVERLAP_FORMS.length; k++) {
        const form = OVERLAP_FORMS[(k + round) % OVERLAP_FORMS.length]!;
        const start = performance.now();
        await forms[form]().submit();
        if (round > 0) times[form].push(performance.now() - start);
      }
    }
  } finally {
    for (const m of models) for (const buffer of Object.values(m.buffers)) buffer.destroy();
  }
  const ms = Object.fromEntries(OVERLAP_FORMS.map((f) => [f, median(times[f])])) as Record<Form, number>;
  const apart = ms['alone A'] + ms['alone B'];
  return { cells, size, rounds, ms, overlap: { after: apart / ms['one after the other'], interleaved: apart / ms.interleaved } };
}

function withRecorded(step: Step, record: (step: Step) => void): Step {
  record(step);
  return step;
}

/** Markdown rows of one result. */
export function formatOverlap(r: OverlapResult): string[] {
  const s = r.size;
  return [
    `### ${r.cells[0]} and ${r.cells[1]} side by side, B=${s.batch} T=${s.steps} H=${s.hidden} D=${s.input}: median wall ms of ${r.rounds} rounds (each step awaited)`,
    '',
    `| ${r.cells[0]} alone | ${r.cells[1]} alone | one after the other | interleaved | overlap (after, interleaved) |`,
    '|---|---|---|---|---|',
    `| ${r.ms['alone A'].toFixed(2)} | ${r.ms['alone B'].toFixed(2)} | ${r.ms['one after the other'].toFixed(2)} | ${r.ms.interleaved.toFixed(2)} | ${r.overlap.after.toFixed(2)}×, ${r.overlap.interleaved.toFixed(2)}× |`,
  ];
}
