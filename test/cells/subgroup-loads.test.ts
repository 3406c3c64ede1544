// Subgroup loads (shaders/cells/held-weights.ts subgroupLoop): on a CPU adapter with subgroups, a held tile's dot
// products load their workgroup vector's (and x's) values one index per lane and broadcast them. Which devices and
// tiles take them (src/gpu/device.ts checkedSubgroupSize, src/cells/tiles.ts deviceSubgroup), and that they give the
// plain loops' numbers bit for bit, with whole chunks of 8 (H = 64, D = 16) and with a rest (H = 20, D = 3: two
// chunks and 4, none and 3), written out and (H past 8 · SUBGROUP_PASSES) looped, in the forward and BPTT. (The tile tests compare the same held tiles against streamed ones, test/cells/tiles.test.ts.)
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { expectSameBits, tileProblem } from '../support/cells.ts';
import { chooseTile, defaultTile, deviceSubgroup, parseTile, tileFor } from '../../src/cells/tiles.ts';
import { forwardProgram } from '../../shaders/recurrence/forward.ts';
import { SUBGROUP_PASSES, subgroupLoop } from '../../shaders/cells/held-weights.ts';
import { checkedSubgroupSize } from '../../src/gpu/device.ts';
import { CELL_KINDS, cellLayerNorm, type CellKind } from '../../src/model/index.ts';

const gpu = useGpu();

afterEach(() => {
  vi.unstubAllEnvs();
  for (const cell of CELL_KINDS) for (const H of [20, 64]) chooseTile(gpu.ctx.device, cell, cellLayerNorm(cell, true), H, defaultTile(H));
});

describe('which tiles load by subgroups', () => {
  it('held tiles of the CPU form on lavapipe (subgroups of 8), unless LWIN_SUBGROUPS=off', () => {
    const device = gpu.ctx.device;
    expect(device.features.has('subgroups')).toBe(true);
    expect(tileFor(device, 'gru', true, 64, 16)).toMatchObject({ held: true, subgroup: 8 });
    expect(tileFor(device, 'gru', true, 20, 3)).toMatchObject({ held: true, subgroup: 8 }); // hp 32: whole subgroups per group
    expect(tileFor(device, 'gru', true, 64).subgroup).toBeUndefined(); // not held: plain loads
    vi.stubEnv('LWIN_HOLD', '0');
    expect(tileFor(device, 'gru', true, 64, 16).subgroup).toBeUndefined();
    vi.stubEnv('LWIN_HOLD', '1');
    vi.stubEnv('LWIN_SUBGROUPS', 'off');
    expect(tileFor(device, 'gru', true, 64, 16).subgroup).toBeUndefined();
    vi.stubEnv('LWIN_SUBGROUPS', 'maybe');
    expect(() => tileFor(device, 'gru', true, 64, 16)).toThrow("LWIN_SUBGROUPS=maybe: use 'on' (CPU adapters with subgroups, the default) or 'off'");
  });

  it('none on a device whose subgroups acquireDevice did not check, or where a group does not hold whole subgroups', () => {
    const tile = parseTile('r4wg64', 64);
    // acquireDevice ran its probe on lavapipe: subgroups are runs of 8 consecutive invocations there.
    expect(checkedSubgroupSize(gpu.ctx.device)).toBe(8);
    const unchecked = { features: new Set<string>(['subgroups']), adapterInfo: { subgroupMinSize: 8, subgroupMaxSize: 8 } } as unknown as GPUDevice;
    expect(checkedSubgroupSize(unchecked)).toBeUndefined();
    expect(deviceSubgroup(unchecked, tile)).toBeUndefined();
    expect(deviceSubgroup(gpu.ctx.device, { ...tile, hp: 4 })).toBeUndefined();
    expect(deviceSubgroup(gpu.ctx.device, tile)).toBe(8);
  });

  it('writes S indices per pass from S lanes, then the rest from a clamped load', () => {
    const write = (length: number) => subgroupLoop(8, length, 'params.H', (j) => `let mine = hbuf[${j}];`, (j, lane) => `acc += ${j} * lane${lane};`);
    // Up to SUBGROUP_PASSES passes: written out, each with its constant j0.
    const loop = write(20);
    expect(loop).not.toContain('for (');
    expect(loop).toContain('let j0 = 8u;');
    expect(loop).toContain('let mine = hbuf[j0 + tsl];');
    expect(loop).toContain('acc += (j0 + 7u) * lane7;');
    expect(loop).toContain('let j0 = 16u;');
    expect(loop).toContain('let mine = hbuf[min(j0 + tsl, 19u)];');
    expect(loop.match(/lane\d+;/g)).toHaveLength(8 + 8 + 4);
    expect(write(8 * SUBGROUP_PASSES).match(/let j0 = /g)).toHaveLength(SUBGROUP_PASSES + 1);
    // More: a loop whose bound is the uniform.
    const long = write(8 * SUBGROUP_PASSES + 12);
    expect(long).toContain('for (; j0 + 8u <= params.H; j0 += 8u) {');
    expect(long.match(/lane\d+;/g)).toHaveLength(8 + 4);
    expect(long).toContain(`let mine = hbuf[min(j0 + tsl, ${8 * SUBGROUP_PASSES + 11}u)];`);
    expect(subgroupLoop(8, 16, 'params.H', () => '', () => '')).not.toContain('min(');
    const tile = { ...tileFor(gpu.ctx.device, 'gru', true, 64, 16) };
    const wgsl = forwardProgram({ cell: 'gru', layernorm: true, tile, intermediates: false, rows: 'columns' }).source();
    expect(wgsl.startsWith('enable subgroups;')).toBe(true);
    expect(wgsl).toContain('@builtin(subgroup_invocation_id) tsl_in: u32');
    expect(wgsl).toMatch(/subgroupBroadcast\(mine, 7u\)/);
    expect(forwardProgram({ cell: 'gru', layernorm: true, tile: { ...tile, subgroup: undefined }, intermediates: false, rows: 'columns' }).source()).not.toContain('subgroup');
  });
});

describe.each<[CellKind, [number, number, number, number], string?]>([
  ['gru', [6, 9, 64, 16]],
  ['lstm', [5, 7, 20, 3]],
  ['shared', [5, 7, 20, 3]],
  ['diag', [6, 9, 64, 16]],
  ['gru', [3, 5, 8 * SUBGROUP_PASSES + 20, 5], 'r4k1hp128wg128-u1-p'], // more passes than SUBGROUP_PASSES: looped
])('%s at B, T, H, D = %j: subgroup loads give the plain loads\' numbers', (cell, size, key = 'r4wg64-u1-p') => {
  it('forward (ŷ, states, SPEC §4 terms) and BPTT (loss, gradients)', async () => {
    const H = size[2];
    const { run } = tileProblem(gpu.ctx, cell, size, 7, [8, 9], 3);
    const tile = { ...parseTile(key, H) };
    const withSubgroups = await run(tile);
    expect(tileFor(gpu.ctx.device, cell, cellLayerNorm(cell, true), H, size[3]).subgroup).toBe(8);
    vi.stubEnv('LWIN_SUBGROUPS', 'off');
    expectSameBits(await run(tile), withSubgroups, 'plain loads');
  }, 300_000); // with a cold shader cache lavapipe compiles the looped case's held kernels for minutes beside another file
});
