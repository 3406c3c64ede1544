// Several sums over units in one tree pass (shaders/cells/tile.ts unitSumsWgsl: LayerNorm's two means in the
// backward and the tangent, shared's gate beside them): unit_sums2 and unit_sums3 must give each value's own
// unit_sum bit for bit, on every tile shape that takes them (several sequences and units per thread, split units,
// several thread groups, subgroup broadcasts), and where they do not fit, one sum after another.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { defineProgram } from '../../src/gpu/index.ts';
import { foldedRow } from '../../shaders/common.ts';
import { tileEntry } from '../../shaders/recurrence/forward.ts';
import { recurrentUniform, type RecurrentUniforms } from '../../shaders/recurrence/params.ts';
import { tileShader } from '../../shaders/cells/held-weights.ts';
import { sumCopies, tileGrid, tileKey, tileSequences, tileVariantKey, tileWidth, unitSumTop, type Tile } from '../../shaders/cells/tile.ts';
import { perComponent } from '../../shaders/cells/tile-components.ts';
import { tilePrelude } from '../../shaders/cells/prelude.ts';
import { candidateTiles, defaultTile, deviceSubgroup, parseTile } from '../../src/cells/tiles.ts';
import { Rng } from '../../src/util/random.ts';

const gpu = useGpu();

/** Sums of vals [3, B, H] over units per sequence, out [8, B]: unit_sums3 (3), unit_sums2 of values 1 and 2, unit_sum of each. */
const SUMS = 8;

function sumsProgram(tile: Tile, copies: number) {
  const set = (name: string, c: number) => (tileWidth(tile) === 1 ? name : `${name}[${c}]`);
  const load = (i: number) => `  var v${i} = V(0.0);
${perComponent(tile, ({ c, unit, seq }) => `  if (${seq} < params.batch && ${unit} < params.H) { ${set(`v${i}`, c)} = vals[(${i}u * params.batch + ${seq}) * params.H + ${unit}]; }`)}`;
  return defineProgram({
    name: 'test_unit_sums',
    variantKey: `${tileVariantKey(tile)},${copies}`,
    bindings: [
      { name: 'P', access: 'read', type: 'f32' }, // the prelude's parameter helpers read it; unused here
      { name: 'vals', access: 'read', type: 'f32' },
      { name: 'out', access: 'read_write', type: 'f32' },
    ],
    uniform: recurrentUniform({ cell: 'const', layernorm: false }),
    workgroupSize: [tile.threads],
    dispatch: tileGrid(tile),
    shader: (head) =>
      tileShader(tile, { layout: 'rows', buffer: 'P' }, `
${head.declarations}
${foldedRow}
${tilePrelude(tile, { arrays: true, rows: 'none', sumValues: copies })}
${tileEntry(head)}
  _ = P[0]; // bound, so that the layout has it
${[0, 1, 2].map(load).join('\n')}
  let three = unit_sums3(v0, v1, v2);
  let two = unit_sums2(v1, v2);
  let sums = array<V, ${SUMS}>(three[0], three[1], three[2], two[0], two[1], unit_sum(v0), unit_sum(v1), unit_sum(v2));
  for (var j = 0u; j < ${SUMS}u; j++) {
    let s = sums[j];
${perComponent(tile, ({ k, seq, lead, comp }) => (k === 0 ? `    if (${lead}tq == 0u && ${seq} < params.batch) { out[j * params.batch + ${seq}] = ${comp('s')}; }` : ''))}
  }
}`),
  });
}

/** Values over six orders of magnitude and both signs, so that another order of additions gives other bits. */
function values(B: number, H: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: 3 * B * H }, () => (rng.uniform() - 0.5) * 10 ** (6 * rng.uniform() - 3));
}

async function runSums(tile: Tile, copies: number, H: number) {
  const B = 2 * tileSequences(tile) + 1; // a partial last workgroup
  const vals = values(B, H, H * 31 + tile.threads);
  const ctx = gpu.ctx;
  const P = ctx.upload('P', new Float32Array(1));
  const input = ctx.upload('vals', vals);
  const out = ctx.storage('out', SUMS * B * 4);
  try {
    const step = ctx.step('unit sums');
    const sizes: RecurrentUniforms = { batch: B, T: 1, D: 1, H, t0: 0, steps: 1, slots: 0, storeEvery: 0, storeFrom: 0, startSlot: 0, o_Wx_weight: 0, o_Wx_bias: 0, o_Wh_weight: 0, o_s_const: 0, o_out_weight: 0, o_out_bias: 0 };
    step.run(sumsProgram(tile, copies), { P, vals: input, out }, sizes);
    const read = step.readF32(out);
    await step.submit();
    return { B, vals, out: await read };
  } finally {
    for (const b of [P, input, out]) b.destroy();
  }
}

function expectSums(B: number, H: number, vals: Float32Array, out: Float32Array) {
  const row = (j: number) => out.subarray(j * B, (j + 1) * B);
  const bits = (a: Float32Array) => [...new Uint32Array(Float32Array.from(a).buffer)];
  for (let i = 0; i < 3; i++) expect(bits(row(i)), `unit_sums3's value ${i}`).toEqual(bits(row(5 + i)));
  for (let i = 0; i < 2; i++) expect(bits(row(3 + i)), `unit_sums2's value ${i}`).toEqual(bits(row(6 + i)));
  // The single sums against float64: a sum of H terms in f32 is within H·2⁻²⁴·Σ|v| of the exact one.
  for (let i = 0; i < 3; i++) {
    for (let b = 0; b < B; b++) {
      const terms = Array.from(vals.subarray((i * B + b) * H, (i * B + b + 1) * H), Number);
      const exact = terms.reduce((s, v) => s + v, 0);
      const bound = H * 2 ** -24 * terms.reduce((s, v) => s + Math.abs(v), 0);
      expect(Math.abs(row(5 + i)[b]! - exact), `unit_sum of value ${i}, sequence ${b}`).toBeLessThanOrEqual(bound);
    }
  }
}

/**
 * Tiles that take three copies, one per shape: several sequences per thread and two thread groups a workgroup, split
 * units (lanes), several units per thread with split units, several sequences and units per thread, a tree of three
 * levels (THT = 256).
 */
const TILES: [number, string][] = [[64, 'r4k1hp64wg128'], [64, 'r2k1hp64wg128-s2'], [20, 'r1k2hp16wg64-s4'], [130, 'r2k2hp128wg128'], [130, 'r1k1hp256wg256']];

describe('unit_sums2 and unit_sums3', () => {
  it.each(TILES)("give each value's unit_sum bit for bit at H = %i on tile %s", async (H, key) => {
    const tile = parseTile(key, H);
    expect(sumCopies(tile, 3, 0)).toBe(3);
    const { B, vals, out } = await runSums(tile, 3, H);
    expectSums(B, H, vals, out);
  });

  it('with subgroup broadcasts at the last level, and one after another where copies are short', async () => {
    const tile = defaultTile(64);
    const S = deviceSubgroup(gpu.ctx.device, { ...tile, held: true, unroll: 1, partials: 1 });
    expect(S, 'lavapipe has subgroups of 8').toBe(8);
    for (const copies of [3, 2, 1]) {
      const t = { ...tile, subgroup: S };
      const { B, vals, out } = await runSums(t, copies, 64);
      expectSums(B, 64, vals, out);
    }
  });

  it('takes copies only where they fit beside the other arrays, with rtop', () => {
    for (const H of [20, 64, 128, 130, 256, 1024]) {
      for (const t of candidateTiles(H)) {
        const copies = sumCopies(t, 3, 0);
        if (copies === 3) expect(unitSumTop(t), tileKey(t)).toBeGreaterThan(0);
        expect(sumCopies(t, 3, 16 * 4096), tileKey(t)).toBe(1);
      }
    }
    expect(sumCopies(candidateTiles(1024)[0]!, 2, 0)).toBe(1); // H = 1024: no room for rtop
  });
});

// How many values a kernel's step sums side by side decides the copies of unit_sum's scratch (sumCopies): the
// forward's LayerNorm mean with shared's gate and the readout of the step before, the backward's two means with
// shared's gate adjoint.
describe('values summed side by side, per cell step', () => {
  const cases: [string, boolean, number, number][] = [
    ['const', true, 2, 2], ['const', false, 1, 1], ['shared', true, 3, 3], ['shared', false, 1, 1], ['gru', true, 2, 2], ['lstm', false, 1, 1],
  ];
  it.each(cases)('%s, LayerNorm %s: forward %i, backward %i', async (cell, layernorm, forward, backward) => {
    const { valuesSummedTogether } = await import('../../shaders/cells/unit-sum.ts');
    const { FORWARD_STEPS, stepContext } = await import('../../shaders/recurrence/forward.ts');
    const { BACKWARD_STEPS } = await import('../../shaders/recurrence/backward.ts');
    const kind = cell as keyof typeof FORWARD_STEPS;
    // the forward kernel's context: its readout rides on the LayerNorm mean (forward.ts)
    const context = { ...stepContext(kind, layernorm), ...(layernorm && { readout: { name: 'y_prev', value: 'y_terms' } }) };
    expect(valuesSummedTogether(FORWARD_STEPS[kind](context))).toBe(forward);
    expect(valuesSummedTogether(BACKWARD_STEPS[kind](stepContext(kind, layernorm)))).toBe(backward);
  });
});
