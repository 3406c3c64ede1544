// Sums in a tile's WGSL (shaders/cells/tile.ts): unit_sum and unit_sums2/3 over the H units of each sequence, by a
// radix-8 tree that depends on H alone (so every tile gives the same bits), and lane_sum over the lanes of a split
// unit.
import { sumLevels, tileSplit, tileUnits, unitSumTop, type Tile } from './tile.ts';
import { component, components, groupComponent, groupLoad, groupValue, leadOnly, tileIndices, vec, type Component } from './tile-components.ts';
import { sumTree } from './dot-loop.ts';

/**
 * Values the sum helpers sum side by side (unit_sums2, unit_sums3): the forward's LayerNorm mean with one or two
 * other sums (prelude.ts layer_norm_and, layer_norm_and2), the backward's two means with none or one (backward.ts
 * layer_norm_backward, layer_norm_backward_and).
 */
const SIDE_BY_SIDE: Record<string, number> = { layer_norm_and: 2, layer_norm_and2: 3, layer_norm_backward: 2, layer_norm_backward_and: 3 };

/** The most values a step's WGSL sums side by side in one call (1: none), for sumCopies. */
export function valuesSummedTogether(step: string): number {
  return Math.max(1, ...Object.entries(SIDE_BY_SIDE).filter(([name]) => new RegExp(`\\b${name}\\(`).test(step)).map(([, n]) => n));
}

/**
 * WGSL of lane_sum(v): the sum over a split unit's TS lanes of their values, as a pairwise tree (sumTree), the same
 * in every lane: by subgroup shuffles where the tile's lanes are a subgroup's (Tile.lanes), else through workgroup
 * memory, where each call writes one of tpart's two sets and takes one barrier: a call's writes cannot overtake
 * the reads two calls back, since every thread has passed the barrier between. Uniform control flow only.
 */
export function laneSum(tile: Tile): string {
  const lanes = tileSplit(tile);
  if (tile.lanes === 'subgroup') {
    // Butterfly by shuffles: after the exchange with lane ^ m (m = 1, 2, …) each lane holds the sum of its block of 2m
    // lanes, the two halves added as sumTree adds them (one half's sum plus the other's: IEEE addition commutes, so
    // the lanes of the upper half, which add them the other way round, get the same bits).
    const steps: string[] = [];
    for (let m = 1; m < lanes; m *= 2) steps.push(`s = s + subgroupShuffleXor(s, ${m}u);`);
    return `
fn lane_sum(v: V) -> V {
  var s = v;
  ${steps.join('\n  ')}
  return s;
}`;
  }
  const comps = components(tile);
  const place = (c: Component) => `(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP`;
  return `
fn lane_sum(v: V) -> V {
  let base = tpar * TS * TSLOTS * THT;
  tpar = 1u - tpar;
  ${comps.map((c) => `tpart[base + tlane * TSLOTS * THT + ${place(c)}] = ${component(tile, 'v', c.c)};`).join('\n  ')}
  workgroupBarrier();
  ${comps.map((c) => `let i${c.c} = base + ${place(c)};`).join(' ')}
  return ${vec(comps.map((c) => sumTree(Array.from({ length: lanes }, (_, l) => `tpart[i${c.c} + ${l}u * TSLOTS * THT]`))))};
}`;
}

/**
 * WGSL of unit_sum(v) and of unit_sums2(v0, v1) and unit_sums3(v0, v1, v2): sums over the H units of each component's
 * sequence, of one value or of two or three independent ones (LayerNorm's backward and tangent: mean(dn) and
 * mean(dn ⊙ n̂)). Every value is summed by the same radix-8 tree over the THT padded units, which depends on H alone,
 * not on the tile, so every tile and every form gives the same sums bit for bit. With `rtop` (unitSumTop) the tree's
 * last level is summed by every thread from rtop, one of two sets taken by turns, instead of by one thread into red
 * and read back after two more barriers: the same additions in the same order, with one barrier per level before it
 * (THT = 64: 2 barriers, not 4). red and rtop are grouped (GROUPED): each step of the tree adds a group's TR
 * sequences as one vector. With `copies` n > 1 (red and rtop hold n copies), unit_sums<n> runs the n trees side by
 * side, one barrier per level for all of them; with fewer copies than values, or no rtop, it sums them one after
 * another.
 * Uniform control flow only (barriers).
 */
export function unitSumsWgsl(tile: Tile, copies: number): string {
  const { comps, ks } = tileIndices(tile);
  const tree = sumLevels(tileUnits(tile));
  const top = unitSumTop(tile);
  const [topFan] = tree.length > 0 ? tree[tree.length - 1]! : [1];
  // Copy c of red starts c·THT units in; copy c of a set of rtop c·topFan entries in.
  const redAt = (c: number, unit: string) => groupLoad('red', c === 0 ? unit : `${c}u * THT + ${unit}`);
  const topAt = (c: number, u: string) => `rtop[top + (${c === 0 ? '' : `${c * topFan}u + `}${u}) * TGROUPS + tslot0 / TR]`;
  const S = tile.subgroup ?? 0;
  const asV = (total: string) => (tile.K === 1 ? total : vec(comps.map((c) => groupComponent(tile, total, c.r))));
  const body = (values: string[]) => {
    const n = values.length;
    const each = (f: (c: number) => string, sep = '\n  ') => values.map((_v, c) => f(c)).join(sep);
    // Units' values go to rtop directly when no level comes before the last.
    const writeTo = (c: number, unit: string) => (top > 0 && tree.length <= 1 ? topAt(c, unit) : redAt(c, unit));
    const writes = leadOnly(tile, each((c) => ks.map((k) => `${writeTo(c, `tq + ${k}u * THP`)} = ${groupValue(tile, values[c]!, k)};`).join('\n  ')));
    const level = ([fan, rest]: [number, number], into: (c: number) => string) => `${leadOnly(tile, `for (var u = tq; u < ${rest}u; u += THP) {
    ${each((c) => `${into(c)} = ${Array.from({ length: fan }, (_, i) => redAt(c, `u + ${i * rest}u`)).join(' + ')};`, '\n    ')}
  }`)}
  workgroupBarrier();`;
    // The last level's values: each thread loads them all, or (Tile.subgroup) lane i loads value i and the others
    // take it by broadcast (on lavapipe a load costs each lane its own, a broadcast a register shuffle). Same order.
    const name = (c: number, base: string) => (n === 1 ? base : `${base}${c}`);
    const topSum = (c: number) =>
      S >= topFan && topFan > 1
        ? `let ${name(c, 'top_mine')} = ${topAt(c, `min(tsl, ${topFan - 1}u)`)};
  let ${name(c, 'total')} = ${Array.from({ length: topFan }, (_, i) => `subgroupBroadcast(${name(c, 'top_mine')}, ${i}u)`).join(' + ')};`
        : `let ${name(c, 'total')} = ${Array.from({ length: topFan }, (_, i) => topAt(c, `${i}u`)).join(' + ')};`;
    const result = n === 1 ? asV('total') : `array<V, ${n}>(${each((c) => asV(`total${c}`), ', ')})`;
    return top > 0
      ? `let top = rpar * TGROUPS * ${copies * topFan}u;
  rpar = 1u - rpar;
  ${writes}
  workgroupBarrier();
  ${tree.slice(0, -1).map((l, i) => level(l, (c) => (i === tree.length - 2 ? topAt(c, 'u') : redAt(c, 'u')))).join('\n  ')}
  ${each(topSum)}
  return ${result};`
      : `${writes}
  workgroupBarrier();
  ${tree.map((l) => level(l, (c) => redAt(c, 'u'))).join('\n  ')}
  let total = ${redAt(0, '0u')};
  workgroupBarrier();
  return ${result};`;
  };
  // Without rtop (no room) several values are summed one after another: sumCopies gives such tiles one copy.
  const several = (n: number) => {
    const args = Array.from({ length: n }, (_, c) => `v${c}`);
    return `fn unit_sums${n}(${args.map((a) => `${a}: V`).join(', ')}) -> array<V, ${n}> {
  ${copies >= n && top > 0 ? body(args) : `return array<V, ${n}>(${args.map((a) => `unit_sum(${a})`).join(', ')});`}
}`;
  };
  return `fn unit_sum(v: V) -> V {
  ${body(['v'])}
}

${several(2)}

${several(3)}`;
}
