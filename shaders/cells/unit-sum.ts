// Sums over units of the recurrent kernels (unit_sum and unit_sums2/3 of the tile prelude, shaders/cells/tile.ts):
// the WGSL of the reduction tree, and how many values a kernel's workgroup memory lets it sum side by side.
import { WORKGROUP_FLOATS, groupComponent, groupLoad, groupValue, leadOnly, sumLevels, tileArrayFloats, tileIndices, tileSequences, tileUnits, unitSumTop, vec, type Tile } from './tile.ts';

/**
 * Copies of unit_sum's scratch (red and rtop) a kernel can take to sum `wanted` values side by side (unitSumsWgsl),
 * beside its other workgroup arrays of `otherFloats` floats (adjoint blocks, the tangent's vbuf): `wanted` if they
 * fit in WebGPU's default 16 KiB with unit_sum's rtop (unitSumTop), else 1 (the values are then summed one after
 * another, with the same bits).
 */
export function sumCopies(tile: Tile, wanted: number, otherFloats: number): number {
  const top = unitSumTop(tile);
  const copy = tileSequences(tile) * tileUnits(tile) + top;
  return top > 0 && tileArrayFloats(tile) + otherFloats + (wanted - 1) * copy <= WORKGROUP_FLOATS ? wanted : 1;
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
