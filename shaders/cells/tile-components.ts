// A tile's components in WGSL (shaders/cells/tile.ts): a thread's values are vectors V of N = R·K components, component
// c = k·R + r being unit block k of the group's sequence r. Per-component statements, the vectors built from them,
// and the workgroup vectors laid out by groups, which the helpers of unit-sum.ts and prelude.ts are written with.
import { tileSplit, tileWidth, type Tile } from './tile.ts';

export interface Component {
  c: number;
  r: number;
  k: number;
}

/** The tile's components: c = k·R + r is unit block k of the group's sequence r. */
export function components(tile: Tile): Component[] {
  return Array.from({ length: tileWidth(tile) }, (_, c) => ({ c, r: c % tile.R, k: Math.floor(c / tile.R) }));
}

/** fma(W, X, acc) of a tile: weight w<k><s> of each component's unit block against value x<r><s> of its sequence. */
export function tileFma(tile: Tile, w: string, x: string, s: string, acc = 'acc'): string {
  const comps = components(tile);
  return `fma(${vec(comps.map((c) => `${w}${c.k}${s}`))}, ${vec(comps.map((c) => `${x}${c.r}${s}`))}, ${acc})`;
}

/**
 * What the helpers of a tile are written with: its components, the distinct sequences r and unit blocks k among
 * them, and the WGSL lets of the thread's units (u<k>, clamped into [0, H)) and of its sequences' rows of x at step tt
 * (x<r>).
 */
export function tileIndices(tile: Tile) {
  const comps = components(tile);
  const rs = [...new Set(comps.map((c) => c.r))];
  const ks = [...new Set(comps.map((c) => c.k))];
  return {
    comps, rs, ks,
    unitLets: ks.map((k) => `let u${k} = unit_at(${k}u);`).join(' '),
    xRows: rs.map((r) => `let x${r} = (min(tseq0 + ${r}u, params.batch - 1u) * params.T + tt) * params.D;`).join(' '),
  };
}

/** A V (or M) built from one WGSL scalar expression per component (a splat when they are all the same). */
export function vec(exprs: string[], type: 'V' | 'M' = 'V'): string {
  if (exprs.length === 1) return exprs[0]!;
  if (exprs.every((e) => e === exprs[0])) return `${type}(${exprs[0]})`;
  return `${type}(${exprs.join(', ')})`;
}

/** Component c of a V-valued WGSL expression. */
export function component(tile: Tile, v: string, c: number): string {
  return tileWidth(tile) === 1 ? v : `(${v})[${c}]`;
}

/**
 * A statement per component, with `${unit}`, `${slot}` (sequence slot in the workgroup) and `${value}` filled in.
 * `lead` opens a write's condition: `tlane == 0u && ` on a split tile (its lanes hold the same values; one
 * writes), '' otherwise.
 */
export function perComponent(tile: Tile, f: (p: { c: number; r: number; k: number; unit: string; seq: string; slot: string; lead: string; comp: (v: string) => string }) => string): string {
  const lead = tileSplit(tile) > 1 ? 'tlane == 0u && ' : '';
  return components(tile)
    .map(({ c, r, k }) => f({ c, r, k, unit: `(tq + ${k}u * THP)`, seq: `(tseq0 + ${r}u)`, slot: `(tslot0 + ${r}u)`, lead, comp: (v) => component(tile, v, c) }))
    .join('\n');
}

/**
 * The workgroup vectors laid out by groups: [unit][group], each entry a groupVector of the group's TR sequences, so
 * that a dot product's step loads h_j of all its sequences at once (on lavapipe a workgroup-memory load costs what its
 * multiply-adds do: one vector load for four scalar ones made a dot product 1.4–2× faster; with red grouped too,
 * const's training step took 16% less time). ρ's `spare` and lane_sum's `tpart` are [slot][unit] floats.
 */
const GROUPED = new Set(['hbuf', 'abuf', 'vbuf', 'red']);

/**
 * The groupVector of unit `unit` of grouped workgroup vector `array` (or of an adjoint block of dbuf, `unit` counted
 * from the block's start) for the thread's group, `group` (default: its index computed in place).
 */
export function groupLoad(array: string, unit: string, group = 'tslot0 / TR'): string {
  return `${array}[(${unit}) * TGROUPS + ${group}]`;
}

/**
 * WGSL lets of element j of workgroup vector `array` for each of the thread's sequences r: `${name}${r}${s}`, after
 * one vector load where the array is grouped.
 */
export function slotLoads(tile: Tile, array: string, j: string, name: string, s = ''): string[] {
  const { rs } = tileIndices(tile);
  if (!GROUPED.has(array)) return rs.map((r) => `let ${name}${r}${s} = ${array}[(tslot0 + ${r}u) * THT + ${j}];`);
  return [`let ${name}g${s} = ${groupLoad(array, j)};`, ...rs.map((r) => `let ${name}${r}${s} = ${groupComponent(tile, `${name}g${s}`, r)};`)];
}

/** WGSL of `fn name() -> V` reading this thread's components of workgroup vector `array`. */
export function tileGetter(tile: Tile, name: string, array: string): string {
  const comps = components(tile);
  const value = GROUPED.has(array)
    ? tile.K === 1
      ? groupLoad(array, 'tq')
      : vec(comps.map((c) => groupComponent(tile, groupLoad(array, `tq + ${c.k}u * THP`), c.r)))
    : vec(comps.map((c) => `${array}[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP]`));
  return `fn ${name}() -> V {
  return ${value};
}`;
}

/** WGSL of `fn name(v: V)` writing this thread's components into workgroup vector `array` (lane 0's). */
export function tileSetter(tile: Tile, name: string, array: string): string {
  const writes = GROUPED.has(array)
    ? tileIndices(tile).ks.map((k) => `${groupLoad(array, `tq + ${k}u * THP`)} = ${groupValue(tile, 'v', k)};`)
    : components(tile).map((c) => `${array}[(tslot0 + ${c.r}u) * THT + tq + ${c.k}u * THP] = ${component(tile, 'v', c.c)};`);
  return `fn ${name}(v: V) {
  ${leadOnly(tile, writes.join('\n  '))}
}`;
}

/** The WGSL type of a thread group's TR values of one unit: how dbuf holds an adjoint block (f32 for TR = 1). */
export function groupVector(tile: Tile): string {
  return tile.R === 1 ? 'f32' : `vec${tile.R}<f32>`;
}

/** Sequence r's value in `vector` (a groupVector). */
export function groupComponent(tile: Tile, vector: string, r: number): string {
  return tile.R === 1 ? vector : `${vector}[${r}]`;
}

/** The groupVector of V `v`'s components on unit block k (v itself when the tile has one unit block). */
export function groupValue(tile: Tile, v: string, k: number): string {
  if (tile.K === 1) return v;
  const parts = components(tile).filter((c) => c.k === k).map((c) => component(tile, v, c.c));
  return tile.R === 1 ? parts[0]! : `${groupVector(tile)}(${parts.join(', ')})`;
}

/**
 * The lets of col_d and its held forms before their loop: the start of block b in dbuf (dbb) and the thread's group
 * (dgrp), so that dbufLoad(j) loads unit j of the block for the group (dbuf is grouped like hbuf).
 */
export const DBUF_LETS = 'let dbb = b * THT; let dgrp = tslot0 / TR;';

/** The groupVector of unit j of col_d's block of dbuf, after DBUF_LETS. */
export function dbufLoad(j: string): string {
  return groupLoad('dbuf', `dbb + ${j}`, 'dgrp');
}

/** `statements` run by lane 0 of a split tile's units only (all of them otherwise). */
export function leadOnly(tile: Tile, statements: string): string {
  return tileSplit(tile) > 1 ? `if (tlane == 0u) {\n  ${statements}\n  }` : statements;
}
