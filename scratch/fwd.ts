import { acquireDevice, GpuContext } from '../src/gpu/index.ts';
import { buildLayout, initParams, type CellKind } from '../src/model/index.ts';
import { recordForward } from '../src/cells/forward.ts';
import { Rng } from '../src/util/random.ts';
const [B, T, H, D] = [64, 256, 64, 16];
const acquired = await acquireDevice();
const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
for (const cell of (process.argv[2] ?? 'gru').split(',') as CellKind[]) for (const ln of [true, false]) {
  const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: ln });
  const rng = new Rng(1);
  const params = ctx.upload('P', Float32Array.from(initParams(layout, { seed: 1 })));
  const x = ctx.upload('x', Float32Array.from({ length: B * T * D }, () => rng.normal()));
  const yhat = ctx.storage('yhat', B * T * 4);
  const state = ctx.storage('state', B * 2 * H * 4);
  const times: number[] = [];
  for (let round = 0; round < 4; round++) {
    const step = ctx.step('fwd');
    step.clear(state);
    recordForward(step, { layout, params, x, batch: B, steps: T, state, yhat });
    const t0 = performance.now();
    await step.submit();
    if (round > 0) times.push(performance.now() - t0);
  }
  console.log(`${cell} ln=${ln}: forward ${Math.min(...times).toFixed(0)} ms (all ${times.map((t) => t.toFixed(0)).join(' ')})`);
}
acquired.release();
