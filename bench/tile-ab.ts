// Interleaved A/B timing of tiles for one training step (forward + BPTT), for investigating the autotune's picks:
//   npx tsx bench/tile-ab.ts CELL BxTxHxD EVERY TILE[,TILE…]
// (AB_MODE=forward times the training forward alone; AB_LN=0 turns LayerNorm off.)
import { acquireDevice, GpuContext } from '../src/gpu/index.ts';
import { buildLayout, cellLayerNorm, type CellKind } from '../src/model/index.ts';
import { recordBatchGradient } from '../src/cells/backward.ts';
import { recordForward } from '../src/cells/forward.ts';
import { INTERMEDIATE_COUNT } from '../src/model/cells.ts';
import { chooseTile, parseTile } from '../src/cells/tiles.ts';
import { stepBuffers } from './cells.ts';

const [cell, size, everyText, tilesText] = process.argv.slice(2) as [CellKind, string, string, string];
const [B, T, H, D] = size.split('x').map(Number) as [number, number, number, number];
const every = Number(everyText) || undefined;
const acquired = await acquireDevice();
const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, process.env.AB_LN !== '0') });
const b = stepBuffers(ctx, layout, B, T, 'tile-ab');
const state = ctx.storage('state', B * 2 * H * 4);
const inter = process.env.AB_MODE === 'forward' ? ctx.storage('inter', INTERMEDIATE_COUNT[cell] * B * T * H * 4) : undefined;
const tiles = tilesText.split(',').map((k) => parseTile(k, H));
const times = new Map<string, number[]>();
for (let round = 0; round < 4; round++) {
  for (const tile of tiles) {
    chooseTile(ctx.device, cell, layout.config.layernorm, H, tile);
    const step = ctx.step('ab');
    if (process.env.AB_MODE === 'forward') {
      step.clear(state);
      recordForward(step, { layout, params: b.params, x: b.x, batch: B, steps: T, state, yhat: b.yhat, intermediates: inter });
    } else recordBatchGradient(step, { layout, ...b, batch: B, steps: T, checkpointEvery: every });
    const t0 = performance.now();
    await step.submit();
    if (round > 0) times.set(tile.R + '/' + tile.threads, [...(times.get(tile.R + '/' + tile.threads) ?? []), performance.now() - t0]);
  }
}
for (const [k, v] of times) console.log(`${cell} ${size} every ${every ?? '-'} tile R/threads ${k}: min ${Math.min(...v).toFixed(1)} ms, all ${v.map((x) => x.toFixed(0)).join(' ')}`);
acquired.release();
