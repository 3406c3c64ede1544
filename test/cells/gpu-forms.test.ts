// The kernels a GPU would run at the paper's size (H = 128, D = 16) are valid WGSL: every tile of a GPU's shortlist
// (8 partial sums, and gru's and lstm's default of 1; split tiles up to 512 threads; held weights written out in full, in every kernel or the
// forward-like ones; the training forward keeping its dot products and the backward replaying them), and the tangent and ρ kernels on a GPU's default tile, held and streamed. Lavapipe cannot run
// most of them in test time (LLVM takes minutes on the written-out forms), but Dawn's WGSL compiler checks them
// (types, names, uniformity of every barrier) in well under a second each, without creating a pipeline, so a
// mistake in a form only GPUs run shows here rather than in a lent GPU's few minutes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { CELL_KINDS, cellLayerNorm, type CellKind } from '../../src/model/index.ts';
import { shortlist } from '../../src/cells/autotune.ts';
import { checkedSubgroupSize } from '../../src/gpu/device.ts';
import { GPU_PARTIALS, chooseTile, defaultTile, defaultTileOn, gpuPartials, tileFor } from '../../src/cells/tiles.ts';
import { DOT_UNROLL, tileKey } from '../../shaders/cells/tile.ts';
import { forwardProgram } from '../../shaders/recurrence/forward.ts';
import { backwardProgram } from '../../shaders/recurrence/backward.ts';
import { tangentProgram } from '../../shaders/recurrence/tangent.ts';
import { rhoProgram } from '../../shaders/diagnostics/rho.ts';
import type { Program } from '../../src/gpu/program.ts';

const gpu = useGpu();
const [H, D] = [128, 16];

afterEach(() => {
  vi.unstubAllEnvs();
  for (const cell of CELL_KINDS) chooseTile(gpu.ctx.device, cell, cellLayerNorm(cell, true), H, defaultTile(H));
});

/** Settle tiles as a GPU does (src/cells/tiles.ts settled): `partials` partial sums, dot products unrolled 8. */
function asGpu(partials: number): void {
  vi.stubEnv('LWIN_PARTIALS', String(partials));
  vi.stubEnv('LWIN_UNROLL', String(DOT_UNROLL));
}

/** The partial sums a GPU may run `cell` with: its default (gru and lstm: 1) and, where that is 1, LWIN_PARTIALS=8's. */
const partialsOf = (cell: CellKind) => [...new Set([gpuPartials(cell), GPU_PARTIALS])];

async function compileErrors(program: Program<never, never>): Promise<string[]> {
  const module = gpu.ctx.device.createShaderModule({ code: program.source() });
  const info = await module.getCompilationInfo();
  return info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
}

describe.each(CELL_KINDS)('%s at H=128 D=16 on a GPU', (cell: CellKind) => {
  const layernorm = cellLayerNorm(cell, true);
  it.each(partialsOf(cell))('every shortlisted tile\'s forward and backward compile, %i partial sums', async (partials) => {
    // Lanes added by subgroup shuffles where the device's subgroups allow (lavapipe's: 8 invocations), as on NVIDIA's.
    const tiles = shortlist(H, false, { cell, input: D }, { partials, maxThreads: 1024, subgroup: checkedSubgroupSize(gpu.ctx.device) });
    expect(tiles.some((t) => t.split)).toBe(partials > 1);
    asGpu(partials);
    for (const t of tiles) {
      chooseTile(gpu.ctx.device, cell, layernorm, H, { ...t, held: t.held ?? false }); // a GPU streams unless the tile holds
      const tile = tileFor(gpu.ctx.device, cell, layernorm, H, D);
      expect(tile.partials).toBe(partials);
      const rows = t.weights === 'rows' ? 'rows' : 'columns';
      for (const program of [
        forwardProgram({ cell, layernorm, tile, intermediates: true, rows }),
        forwardProgram({ cell, layernorm, tile, intermediates: false, rows, keepDots: true }),
        backwardProgram({ cell, layernorm, tile, rows }),
        backwardProgram({ cell, layernorm, tile, rows, replay: true }),
      ]) {
        expect(await compileErrors(program as unknown as Program<never, never>), `${program.name} on ${tileKey(tile)}`).toEqual([]);
      }
    }
  }, 120_000);

  it.each(partialsOf(cell))('the tangent and ρ kernels compile on a GPU\'s default tile, held and streamed, %i partial sums', async (partials) => {
    asGpu(partials);
    for (const held of [false, true]) {
      vi.stubEnv('LWIN_HOLD', held ? '1' : '0');
      const tile = defaultTileOn(gpu.ctx.device, cell, H, D);
      expect(tile).toMatchObject({ partials, unroll: DOT_UNROLL, held });
      const programs = [
        ...(['rows', 'columns'] as const).map((rows) => tangentProgram({ cell, layernorm, tile, cellTangent: false, inputTangent: true, rows })),
        rhoProgram({ cell, layernorm, tile }),
      ];
      for (const program of programs) {
        expect(await compileErrors(program as unknown as Program<never, never>), `${program.name} on ${tileKey(tile)}`).toEqual([]);
      }
    }
  }, 120_000);
});
