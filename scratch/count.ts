import { tangentProgram } from '../shaders/recurrence/tangent.ts';
import { forwardProgram } from '../shaders/recurrence/forward.ts';
import { makeTile } from '../src/cells/tiles.ts';
const base = makeTile(128, 1, 256)!;
const tile = { ...base, unroll: 8, partials: 1, held: false } as never;
for (const cell of ['gru', 'lstm', 'const'] as const) {
  const t = tangentProgram({ cell, layernorm: true, tile, cellTangent: false, inputTangent: false }).source();
  const f = forwardProgram({ cell, layernorm: true, tile, intermediates: false, rows: 'columns' } as never).source();
  const c = (s: string, re: RegExp) => (s.match(re) ?? []).length;
  console.log(cell, 'tangent chars', t.length, 'barriers', c(t, /workgroupBarrier/g), 'unit_sum', c(t, /unit_sum\(/g), 'row_', c(t, /row_[hax]\(/g), '| forward chars', f.length, 'barriers', c(f, /workgroupBarrier/g), 'unit_sum', c(f, /unit_sum\(/g), 'row_', c(f, /row_[hax]\(/g));
}
