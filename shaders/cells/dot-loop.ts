// The dot products of the tile kernels as WGSL: one chain of fused multiply-adds, or P partial sums shared by a
// unit's S threads (shaders/cells/tile.ts explains both; dotLoop writes either, held-weights.ts the held forms).

/** Partial sums of a dot product (shaders/cells/tile.ts): P partials, shared by S threads per unit. */
export interface DotSums {
  partials: number;
  split: number;
}

/** `xs` added as a pairwise tree (halves first): the one order every split of the partials reproduces. */
export function sumTree(xs: string[], add: (a: string, b: string) => string = (a, b) => `(${a} + ${b})`): string {
  if (xs.length === 1) return xs[0]!;
  const half = xs.length / 2;
  return add(sumTree(xs.slice(0, half), add), sumTree(xs.slice(half), add));
}

/**
 * WGSL of `var acc = zero` (V(0.0) unless given), the loop acc = fma(…, acc) over j < count and `return acc;`, with
 * `unroll` iterations per pass (then one at a time for the rest). `step(j, s)` gives one iteration at index expression j: its loads,
 * whose names end in s (distinct per iteration of a pass), and its multiply-adds into acc, in order.
 *
 * With `sums.partials` P > 1 (shaders/cells/tile.ts), the thread keeps its P/S partials acc0… (`acc` in step's
 * multiply-adds names the one of its j), a pass covers whole blocks of P indices (the thread's P/S of each; as
 * many blocks as make `unroll` loads), guarded steps finish the last block, and the return is the partials'
 * tree (`add` adds two values), through lane_sum when S > 1.
 */
export function dotLoop(
  count: string,
  unroll: number,
  step: (j: string, s: string) => { loads: string[]; fmas: string[] },
  zero = 'V(0.0)',
  sums: DotSums = { partials: 1, split: 1 },
  add?: (a: string, b: string) => string,
): string {
  if (sums.partials > 1) return partialLoop(count, unroll, step, zero, sums, add);
  const pass = Array.from({ length: unroll }, (_, i) => step(`(j + ${i}u)`, `_${i}`));
  const one = step('j', '');
  const sums1 = (fmas: string[]) => fmas.map((f) => `acc = ${f};`).join(' ');
  const body = unroll > 1
    ? `  for (; j + ${unroll}u <= ${count}; j += ${unroll}u) {
    ${pass.flatMap((p) => p.loads).join(' ')}
    ${pass.map((p) => sums1(p.fmas)).join(' ')}
  }
`
    : '';
  return `  var acc = ${zero};
  var j = 0u;
${body}  for (; j < ${count}; j++) {
    ${one.loads.join(' ')}
    ${sums1(one.fmas)}
  }
  return acc;`;
}

/**
 * The partials' starting value: zero, but one the compiler cannot see (H is never 0). From a literal 0 it turns a
 * partial's first fma(p, v, 0) into p·v, and may then contract the tree's addition of two such products into one
 * fma, a different rounding; where that happens depends on the form (a loop hides the zero, written-out code does
 * not), and the forms must give the same bits.
 */
export const PARTIAL_ZERO = 'V(select(0.0, 1.0, params.H == 0u))';

/** `fmas` of a step accumulating into partial `i` (acc → acc<i>), as statements. */
export function intoPartial(fmas: string[], i: number): string {
  return fmas.map((f) => `acc${i} = ${f.replace(/\bacc\b/g, `acc${i}`)};`).join(' ');
}

/** The return of a thread's partials acc0… (`per` of them): their tree, through lane_sum across a split unit's lanes. */
export function partialsReturn(per: number, sums: DotSums, add?: (a: string, b: string) => string): string {
  if (sums.split > 1 && add) throw new Error('lane_sum adds V values only: a split tile has no custom partial sums');
  const tree = sumTree(Array.from({ length: per }, (_, i) => `acc${i}`), add);
  return `  return ${sums.split > 1 ? `lane_sum(${tree})` : tree};`;
}

function partialLoop(count: string, unroll: number, step: (j: string, s: string) => { loads: string[]; fmas: string[] }, zero: string, sums: DotSums, add?: (a: string, b: string) => string): string {
  const P = sums.partials;
  const per = P / sums.split;
  const blocks = Math.max(1, Math.floor(unroll / per));
  const pass = (n: number) => {
    const steps = Array.from({ length: n * per }, (_, x) => ({ i: x % per, s: step(`(j + ${Math.floor(x / per) * P + (x % per)}u)`, `_${x}`) }));
    return `    ${steps.flatMap((p) => p.s.loads).join(' ')}
    ${steps.map((p) => intoPartial(p.s.fmas, p.i)).join(' ')}`;
  };
  const tail = Array.from({ length: per - 1 }, (_, i) => {
    const one = step(`(j + ${i}u)`, `_t${i}`);
    return `  if (j + ${i}u < ${count}) { ${one.loads.join(' ')} ${intoPartial(one.fmas, i)} }`;
  });
  const start = zero === 'V(0.0)' ? PARTIAL_ZERO : zero;
  return `  ${Array.from({ length: per }, (_, i) => `var acc${i} = ${start};`).join(' ')}
  var j = ${sums.split > 1 ? `tlane * ${per}u` : '0u'}; // this thread's first index: partials [j, j + ${per}) of every block of ${P}
  for (; j + ${(blocks - 1) * P + per}u <= ${count}; j += ${blocks * P}u) {
${pass(blocks)}
  }
${blocks > 1 ? `  for (; j + ${per}u <= ${count}; j += ${P}u) {
${pass(1)}
  }
` : ''}${tail.join('\n')}${tail.length ? '\n' : ''}${partialsReturn(per, sums, add)}`;
}
