// The training kernels' weights by columns (src/cells/weights.ts): the copy holds every unit-row matrix per block of
// H rows column-major and every other tensor as it is; and the kernels reading it give the numbers of the kernels
// reading the parameters by rows, bit for bit (the same products summed in the same order), stored and checkpointed.
import { afterEach, describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { gaussianInputs, gpuGradient, runForwardGpu } from '../support/cells.ts';
import { buildLayout, initParams, CELL_KINDS, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import { columnMatrices, forcedRowLayout, recordRowWeights, rowLayout } from '../../src/cells/weights.ts';
import { byRows, chooseTile, defaultTile, parseTile } from '../../src/cells/tiles.ts';
import { tileKey } from '../../shaders/cells/tile.ts';

const gpu = useGpu();

function withWeights<T>(layout: 'rows' | 'columns', run: () => Promise<T>): Promise<T> {
  const before = process.env.LWIN_WEIGHTS;
  process.env.LWIN_WEIGHTS = layout;
  return run().finally(() => {
    if (before === undefined) delete process.env.LWIN_WEIGHTS;
    else process.env.LWIN_WEIGHTS = before;
  });
}

afterEach(() => {
  expect(forcedRowLayout()).toBeUndefined();
});

describe('the copy by columns', () => {
  it.each([
    ['gru', 5, 3],
    ['torch_gru', 5, 3], // stacked [3H, H] and [3H, D]: three blocks of H rows each
    ['shared', 4, 2], // one-row Ws [1, D] and Us [1, H] stay by rows
    ['lstm', 1, 2], // H = 1: by columns is the same memory
  ] as [CellKind, number, number][])('%s H=%i D=%i: blocks of H rows column-major, everything else as it is', async (cell, H, D) => {
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm: cellLayerNorm(cell, true) });
    const p = Float32Array.from(initParams(layout, { seed: 5 }));
    const params = gpu.ctx.upload('test/P', p);
    try {
      const step = gpu.ctx.step('test weights by columns');
      const read = step.readF32(recordRowWeights(step, layout, params));
      await step.submit();
      const got = await read;
      const expected = Float32Array.from(p);
      const moved = columnMatrices(layout);
      for (const t of moved) {
        const [R, C] = [t.shape[0]!, t.shape[1]!];
        for (let row = 0; row < R; row++) {
          for (let col = 0; col < C; col++) expected[t.offset + Math.floor(row / H) * H * C + col * H + (row % H)] = p[t.offset + row * C + col]!;
        }
      }
      expect([...got]).toEqual([...expected]);
      expect(moved.map((t) => t.name)).not.toContain('out.weight');
      if (cell === 'shared') expect(moved.map((t) => t.name)).not.toContain('Ws.weight');
      if (cell === 'torch_gru') expect(moved.map((t) => t.name).sort()).toEqual(['weight_hh_l0', 'weight_ih_l0']);
    } finally {
      params.destroy();
    }
  });

  it('a tile by rows reads the parameters themselves; LWIN_WEIGHTS overrides the tile either way', async () => {
    const layout = buildLayout({ cell: 'gru', inputSize: 3, hiddenSize: 20, layernorm: true });
    expect(tileKey(parseTile('r2wg128-rows', 20))).toBe('r2k1hp32wg128-rows');
    expect(rowLayout(gpu.ctx.device, layout)).toBe('columns');
    chooseTile(gpu.ctx.device, 'gru', true, 20, byRows(defaultTile(20)));
    try {
      expect(rowLayout(gpu.ctx.device, layout)).toBe('rows');
      expect(await withWeights('columns', async () => rowLayout(gpu.ctx.device, layout))).toBe('columns');
      const params = gpu.ctx.upload('test/P', Float32Array.from(initParams(layout, { seed: 1 })));
      const step = gpu.ctx.step('test rows tile');
      expect(recordRowWeights(step, layout, params)).toBe(params);
      await step.submit();
      params.destroy();
    } finally {
      chooseTile(gpu.ctx.device, 'gru', true, 20, defaultTile(20));
    }
    expect(await withWeights('rows', async () => rowLayout(gpu.ctx.device, layout))).toBe('rows');
  });

  it('refuses an unknown LWIN_WEIGHTS, naming the choices', async () => {
    await expect(withWeights('sideways' as 'rows', async () => forcedRowLayout())).rejects.toThrow("LWIN_WEIGHTS=sideways: use 'columns' (the default) or 'rows'");
  });
});

describe.each(CELL_KINDS.map((cell) => [cell, cellLayerNorm(cell, true)] as [CellKind, boolean]))('%s (LayerNorm %s): by columns = by rows', (cell, layernorm) => {
  it('forward (ŷ, states, SPEC §4 terms) and BPTT stored and checkpointed, B=5 T=7 H=20 D=3', async () => {
    const [B, T, H, D] = [5, 7, 20, 3];
    const layout = buildLayout({ cell, inputSize: D, hiddenSize: H, layernorm });
    const p = Float32Array.from(initParams(layout, { seed: 4 }));
    const x = gaussianInputs(B, T, D, 6);
    const y = gaussianInputs(B, T, 1, 7);
    const run = async () => ({
      forward: await runForwardGpu(gpu.ctx, layout, p, x, B, T, { every: 2 }),
      stored: await gpuGradient(gpu.ctx, layout, p, x, y, B, T),
      // Segments of 3 steps: the later segments start from a checkpoint copied into the backward's adj.
      checkpointed: await gpuGradient(gpu.ctx, layout, p, x, y, B, T, 3),
    });
    const columns = await withWeights('columns', run);
    const rows = await withWeights('rows', run);
    expect([...columns.forward.yhat], 'ŷ').toEqual([...rows.forward.yhat]);
    expect([...columns.forward.stored], 'states').toEqual([...rows.forward.stored]);
    expect([...columns.forward.inter], 'SPEC §4 terms').toEqual([...rows.forward.inter]);
    for (const mode of ['stored', 'checkpointed'] as const) {
      expect(columns[mode].loss, `${mode}: loss`).toBe(rows[mode].loss);
      expect([...columns[mode].grad], `${mode}: gradients`).toEqual([...rows[mode].grad]);
    }
    // Not vacuous: the gradients compared are not all zero.
    expect(columns.stored.grad.some((g) => g !== 0)).toBe(true);
  });
});
