// Held weights (PERF.md's persistent weights; Diamos et al. 2016, cuDNN's persistent RNN): a tile kernel whose
// threads load the weights their dot products need once per dispatch, into arrays of their own, and read them from
// there at every step instead of from a storage buffer. A held tile compiles H and D into its WGSL (an array's
// length is a constant). Two forms, by the tile's unroll:
//   - unroll > 1 (GPUs): loads and dot products written out in full with constant indices, so the compiler can keep
//     the arrays in registers while they fit (the autotune times held tiles only where they should);
//   - unroll 1 (CPU adapters): a loop loads them and loops read them (a thread's own memory instead of a storage
//     buffer's bounds-checked gathers): training steps 13–19% faster on lavapipe. Written out in full the dot
//     products run 2–4× faster there, but LLVM then takes minutes to compile a backward kernel (gru at H = 64: 335 s
//     against 18 s), so the CPU form keeps loops, whose bounds are uniforms so that they are not unrolled either;
//     with subgroup loads, loops of up to SUBGROUP_PASSES passes are written out pass by pass (S statements each).
// The CPU form also fuses: the dot products of a step that read the same vector (gru's two row_h and three row_x,
// lstm's four of each, shared's row_x and row_x0) run in one loop, which loads each h_j (x_j) once for all of them
// (fuseCalls). On lavapipe the loads, not the multiply-adds, are a dot product's cost: gru's forward kernel took 25%
// less time, lstm's ~55%, shared's ~40% (bench/RESULTS.md).
// Each sum keeps its own accumulator and order, so fused or not gives the same bits.
// The arrays are the entry point's own (function scope) and the helpers take pointers to them: LLVM compiles
// module-scope arrays several times slower.
//
// The transform works on a finished tile shader: every call of a row helper (row_h, row_a: U's row; row_x: W's
// row; row_x0: the one row of a one-row W, which every thread holds whole; col_d: U's column) is replaced by a
// helper of its own for that weight matrix, which reads the held copy.
// The sums are the same, in the same order (j ascending, one fused multiply-add each, into partial j mod P), so a
// held tile gives the same results as the streamed one bit for bit (test/cells/tiles.test.ts). A thread of a split
// tile (several threads per unit) holds only the j of its own partials: entry i of its arrays is index
// j = (i / per)·P + tlane·per + i % per, with per = P / S of the P partials its own.
import { PARTIAL_ZERO, intoPartial, partialsReturn } from './dot-loop.ts';
import { tileSums, tileUnroll, type HeldDims, type RowWeights, type Tile } from './tile.ts';
import { DBUF_LETS, dbufLoad, groupComponent, groupLoad, slotLoads, tileFma, tileIndices } from './tile-components.ts';

/** Where tileEntry (shaders/recurrence/forward.ts) leaves room for the held weights' arrays and their loads. */
export const HELD_WEIGHTS = '// [held weights]';

type Kind = 'row' | 'x' | 'x0' | 'col';
/** Where a dot product's values come from: sequence r's element j, or one vector of the group's sequences at j. */
type Source = ((r: number, j: string) => string) | { vector: (j: string) => string };
const HELPERS: Record<string, Kind> = { row_h: 'row', row_a: 'row', row_x: 'x', row_x0: 'x0', col_d: 'col' };

export interface Call {
  start: number;
  end: number;
  name: string;
  args: string[];
}

/**
 * The calls of the helpers `names` (default: the row helpers whose weights can be held) in `shader`, not their
 * definitions, in textual order, with their arguments split at top level.
 */
export function helperCalls(shader: string, names: readonly string[] = Object.keys(HELPERS)): Call[] {
  const calls: Call[] = [];
  const pattern = new RegExp(`\\b(${names.join('|')})\\(`, 'g');
  for (let m = pattern.exec(shader); m; m = pattern.exec(shader)) {
    if (/\bfn\s+$/.test(shader.slice(Math.max(0, m.index - 4), m.index))) continue;
    const args: string[] = [];
    let depth = 0;
    let from = pattern.lastIndex;
    let i = from;
    for (; i < shader.length; i++) {
      const ch = shader[i];
      if (ch === '(') depth++;
      else if (ch === ')' && depth-- === 0) break;
      else if (ch === ',' && depth === 0) {
        args.push(shader.slice(from, i).trim());
        from = i + 1;
      }
    }
    args.push(shader.slice(from, i).trim());
    calls.push({ start: m.index, end: i + 1, name: m[1]!, args });
    pattern.lastIndex = i + 1;
  }
  return calls;
}

/**
 * `shader` (a tile kernel whose prelude was made with the same tile and `rows`, entry point from tileEntry) with its
 * weights held: each distinct weight matrix of the row helpers' calls becomes arrays of the entry point (one per
 * unit block k), loaded where tileEntry left HELD_WEIGHTS and read by helpers of its own.
 */
export function holdWeights(tile: Tile, dims: HeldDims, rows: RowWeights, shader: string): string {
  if (!shader.includes(HELD_WEIGHTS)) throw new Error('holdWeights: the shader has no entry point made by tileEntry');
  const { rs, ks, xRows } = tileIndices(tile);
  const unrolled = tileUnroll(tile) > 1;
  const matrices = new Map<string, { id: number; kind: Kind; off: string }>();
  const calls = helperCalls(shader);
  const ids = calls.map((call) => {
    const kind = HELPERS[call.name]!;
    const off = call.args[0]!;
    const key = `${kind}|${off.replace(/\s+/g, ' ')}`;
    if (!matrices.has(key)) matrices.set(key, { id: matrices.size, kind, off });
    return matrices.get(key)!.id;
  });
  const sums = tileSums(tile);
  // The CPU form fuses the dot products of a step that read the same vector (fuseCalls).
  const cpuForm = !unrolled && sums.partials === 1 && sums.split === 1;
  const groups = cpuForm ? fuseCalls(shader, calls) : [];
  // ... and, with `subgroup` S, loads each vector's values S at a time, one per lane, then broadcasts them (subgroupLoop).
  const S = cpuForm ? tile.subgroup ?? 0 : 0;
  const edits: { at: number; end: number; text: string }[] = [];
  const fused: string[] = [];
  const member = new Map<number, string>();
  for (const [g, group] of groups.entries()) {
    const first = calls[group[0]!]!;
    const name = `${first.name}_fused${g}`;
    const at = statementStart(shader, first.start)!;
    const indent = /^[ \t]*/.exec(shader.slice(at))![0];
    edits.push({ at, end: at, text: `${indent}let fused${g} = ${name}(${group.flatMap((c) => ks.map((k) => `&held${ids[c]}_${k}`)).join(', ')});\n` });
    group.forEach((c, i) => member.set(c, `fused${g}[${i}]`));
    fused.push(fusedHelper(tile, dims, name, HELPERS[first.name] === 'row' ? 'row' : 'x', first.name === 'row_a' ? 'abuf' : 'hbuf', group.length, S));
  }
  // The held helpers some call still makes (a fused group's members read their loop's results instead).
  const direct = new Set<string>();
  calls.forEach((call, c) => {
    if (!member.has(c)) direct.add(`${call.name}|${ids[c]}`);
    edits.push({ at: call.start, end: call.end, text: member.get(c) ?? `${call.name}_held${ids[c]}(${[...ks.map((k) => `&held${ids[c]}_${k}`), ...call.args.slice(1)].join(', ')})` });
  });
  // Insertions (at a statement's start) before the replacement that may begin there.
  edits.sort((a, b) => a.at - b.at || (a.end - a.at) - (b.end - b.at));
  let out = '';
  let at = 0;
  for (const edit of edits) {
    out += shader.slice(at, edit.at) + edit.text;
    at = edit.end;
  }
  out += shader.slice(at);
  const byColumns = rows.layout === 'columns';
  const rw = rows.buffer;
  // Element j of unit block k's row or column, as the streamed helpers read it (shaders/cells/tile.ts).
  const source: Record<Kind, (k: number, j: string) => string> = {
    row: (k, j) => (byColumns ? `${rw}[off + ${j} * params.H + u${k}]` : `${rw}[off + u${k} * params.H + ${j}]`),
    x: (k, j) => (byColumns ? `${rw}[off + ${j} * params.H + u${k}]` : `${rw}[off + u${k} * params.D + ${j}]`),
    x0: (_k, j) => `${rw}[off + ${j}]`, // row 0 for every unit, never by columns (tile.ts row_x0)
    col: (k, j) => `P[off + ${j} * params.H + u${k}]`,
  };
  const length = (kind: Kind) => (kind === 'x' || kind === 'x0' ? dims.D : dims.H);
  // The CPU form's loop bounds are the uniforms (equal to the compiled sizes), so that no compiler unrolls them.
  const bound = (kind: Kind) => (unrolled ? `${length(kind)}u` : length(kind) === dims.D ? 'params.D' : 'params.H');
  const P = sums.partials;
  const per = P / sums.split;
  // Entries a thread holds of a matrix's rows (whole blocks of P when split), and the index j of entry i.
  const held = (kind: Kind) => (sums.split > 1 ? Math.ceil(length(kind) / P) * per : length(kind));
  const lane = sums.split > 1 ? `tlane * ${per}u + ` : '';
  const index = (i: number) => (P === 1 ? `${i}u` : `(${lane}${Math.floor(i / per) * P + (i % per)}u)`);
  // Whether entry i may lie past the end (j ≥ length) in some lane: its steps are then guarded.
  const past = (kind: Kind, i: number) => Math.floor(i / per) * P + (sums.split - 1) * per + (i % per) >= length(kind);
  const arrays: string[] = [];
  const loads: string[] = [];
  const helpers: string[] = [];
  for (const { id, kind, off } of matrices.values()) {
    const type = `array<f32, ${held(kind)}>`;
    for (const k of ks) arrays.push(`var held${id}_${k}: ${type};`);
    const pointers = ks.map((k) => `w${k}: ptr<function, ${type}>`);
    // One fused multiply-add per j, ascending: the streamed helpers' sums exactly.
    // A value source is each sequence's element j, or (dbuf) one vector of the group's sequences at j.
    const loadValues = (value: Source, j: string) =>
      typeof value === 'function' ? rs.map((r) => ` let v${r} = ${value(r, j)};`).join('') : ` let dv = ${value.vector(j)};${rs.map((r) => ` let v${r} = ${groupComponent(tile, 'dv', r)};`).join('')}`;
    const term = (i: string, j: string, value: Source, acc = 'acc') =>
      `{${ks.map((k) => ` let p${k} = (*w${k})[${i}];`).join('')}${loadValues(value, j)} ${acc} = ${tileFma(tile, 'p', 'v', '', acc)}; }`;
    let dot: (value: Source) => string;
    if (P === 1) {
      loads.push(`{ let off = ${off}; for (var j = 0u; j < ${bound(kind)}; j++) {${ks.map((k) => ` held${id}_${k}[j] = ${source[kind](k, 'j')};`).join('')} } }`);
      const rolled = (value: Source) =>
        S > 0
          ? subgroupLoop(S, length(kind), bound(kind), (j) => laneLoads(tile, value, j), (j, lane) => `{${ks.map((k) => ` let p${k} = (*w${k})[${j}];`).join('')} ${laneValues(tile, value, lane)} acc = ${tileFma(tile, 'p', 'v', '')}; }`)
          : `  for (var j = 0u; j < ${bound(kind)}; j++) ${term('j', 'j', value)}`;
      dot = (value) => `  var acc = V(0.0);
${unrolled ? Array.from({ length: length(kind) }, (_, j) => `  ${term(`${j}u`, `${j}u`, value)}`).join('\n') : rolled(value)}
  return acc;`;
    } else if (unrolled) {
      const entries = Array.from({ length: held(kind) }, (_, i) => i).filter((i) => sums.split > 1 || i < length(kind));
      const guard = (i: number, statement: string) => (past(kind, i) ? `if (${index(i)} < ${length(kind)}u) { ${statement} }` : statement);
      loads.push(`{ let off = ${off};\n    ${entries.map((i) => guard(i, ks.map((k) => `held${id}_${k}[${i}] = ${source[kind](k, index(i))};`).join(' '))).join('\n    ')} }`);
      dot = (value) => `  ${Array.from({ length: per }, (_, i) => `var acc${i} = ${PARTIAL_ZERO};`).join(' ')}
${entries.map((i) => `  ${guard(i, term(`${i}u`, index(i), value, `acc${i % per}`))}`).join('\n')}
${partialsReturn(per, sums)}`;
    } else {
      // Loops over blocks of P (the uniform bound keeps them rolled), each its per entries written out.
      const blocks = `(${bound(kind)} + ${P - 1}u) / ${P}u`;
      const at = (i: number) => `(b * ${P}u + ${lane}${i}u)`;
      loads.push(`{ let off = ${off}; for (var b = 0u; b < ${blocks}; b++) {${Array.from({ length: per }, (_, i) => ` if (${at(i)} < ${bound(kind)}) {${ks.map((k) => ` held${id}_${k}[b * ${per}u + ${i}u] = ${source[kind](k, at(i))};`).join('')} }`).join('')} } }`);
      dot = (value) => `  ${Array.from({ length: per }, (_, i) => `var acc${i} = ${PARTIAL_ZERO};`).join(' ')}
  for (var b = 0u; b < ${blocks}; b++) {${Array.from({ length: per }, (_, i) => `\n    if (${at(i)} < ${bound(kind)}) ${term(`b * ${per}u + ${i}u`, at(i), value, `acc${i}`)}`).join('')}
  }
${partialsReturn(per, sums)}`;
    }
    if (kind === 'row') {
      for (const [helper, buf] of [['row_h', 'hbuf'], ['row_a', 'abuf']] as const) {
        if (direct.has(`${helper}|${id}`)) helpers.push(`fn ${helper}_held${id}(${pointers.join(', ')}) -> V {\n${dot({ vector: (j) => groupLoad(buf, j) })}\n}`);
      }
    } else if (kind === 'x' || kind === 'x0') {
      const helper = kind === 'x' ? 'row_x' : 'row_x0';
      if (direct.has(`${helper}|${id}`)) helpers.push(`fn ${helper}_held${id}(${pointers.join(', ')}) -> V {\n  ${xRows}\n${dot((r, j) => `x[x${r} + ${j}]`)}\n}`);
    } else {
      helpers.push(`fn col_d_held${id}(${[...pointers, 'b: u32'].join(', ')}) -> V {\n  ${DBUF_LETS}\n${dot({ vector: dbufLoad })}\n}`);
    }
  }
  const entry = `// held weights (shaders/cells/held-weights.ts): H = ${dims.H}, D = ${dims.D} compiled in
  ${arrays.join('\n  ')}
  {
    ${ks.map((k) => `let u${k} = unit_at(${k}u);`).join(' ')}
    ${loads.join('\n    ')}
  }`;
  return `${out.replace(HELD_WEIGHTS, entry)}\n${[...helpers, ...fused].join('\n\n')}\n`;
}

/** The entry point's parameter and first statement (tileEntry), beside which a subgroup tile takes its lane. */
const ENTRY_INDEX = '@builtin(local_invocation_index) lid: u32';
const ENTRY_INIT = 'tile_init(lid, ';

/** `shader` (made by tileEntry) with `tsl`, each invocation's lane in its subgroup, for subgroupLoop and unit_sum. */
function withSubgroupLane(shader: string): string {
  if (!shader.includes(ENTRY_INDEX) || !shader.includes(ENTRY_INIT)) throw new Error('a subgroup tile needs an entry point made by tileEntry');
  const entry = shader.replace(ENTRY_INDEX, `${ENTRY_INDEX}, @builtin(subgroup_invocation_id) tsl_in: u32`).replace(ENTRY_INIT, `tsl = tsl_in;\n  ${ENTRY_INIT}`);
  return `enable subgroups;\nvar<private> tsl: u32; // this invocation's lane in its subgroup\n${entry}`;
}

/**
 * Passes of subgroupLoop written out in full rather than looped (H ≤ 64 with subgroups of 8). lavapipe keeps a loop
 * counter in a vector register, one value per lane, so a held array read at an index made from it is a per-lane
 * gather; at a constant index it is one vector load. lstm's backward kernel at B=64 T=256 H=64 took 18% less time
 * (col_d); a pass is S statements, so this costs little compile time, unlike writing out every index's statement.
 */
export const SUBGROUP_PASSES = 8;

/**
 * WGSL of a dot product's loop over j < length (`bound` its uniform, equal to it) that loads the values of S
 * indices at once, one per lane of the subgroup (`mine(j)`: lets of this lane's values at index j), and then takes
 * index j0 + i's from lane i (`step(j, i)`: one index's statement). On lavapipe a workgroup-memory load costs tens
 * of instructions per lane and component (each lane's address is loaded apart, under its execution mask), while a
 * broadcast from a lane is a register shuffle: a dot product's loads, not its multiply-adds, were its cost. The
 * lanes of a subgroup are consecutive invocations of one thread group (checked when lwin opens the device:
 * src/gpu/device.ts checkedSubgroupSize), so each lane's values are the group's. Each index keeps its one fused
 * multiply-add, in ascending order: the same sums as the plain loop.
 */
export function subgroupLoop(S: number, length: number, bound: string, mine: (j: string) => string, step: (j: string, lane: number) => string): string {
  const rest = length % S;
  const lanes = (n: number) => Array.from({ length: n }, (_, i) => `    ${step(`(j0 + ${i}u)`, i)}`).join('\n');
  const passes = Math.floor(length / S);
  // Few passes: written out, each with its constant j0 (see SUBGROUP_PASSES).
  const body = passes <= SUBGROUP_PASSES
    ? Array.from({ length: passes }, (_, p) => `  {
    let j0 = ${p * S}u;
    ${mine('j0 + tsl')}
${lanes(S)}
  }`).join('\n') + `\n  let j0 = ${passes * S}u;`
    : `  var j0 = 0u;
  for (; j0 + ${S}u <= ${bound}; j0 += ${S}u) {
    ${mine('j0 + tsl')}
${lanes(S)}
  }`;
  return `${body}${rest > 0 ? `
  {
    ${mine(`min(j0 + tsl, ${length - 1}u)`)}
${lanes(rest)}
  }` : ''}`;
}

/** Lets of this lane's values at index j of a dot product's source (subgroupLoop): `mine` (a group's vector) or `mine<r>`. */
function laneLoads(tile: Tile, value: Source, j: string): string {
  return typeof value === 'function' ? tileIndices(tile).rs.map((r) => `let mine${r} = ${value(r, j)};`).join(' ') : `let mine = ${value.vector(j)};`;
}

/** Lets of v<r>, sequence r's value at the index lane `lane` loaded (laneLoads), taken from that lane. */
function laneValues(tile: Tile, value: Source, lane: number): string {
  const { rs } = tileIndices(tile);
  return typeof value === 'function'
    ? rs.map((r) => `let v${r} = subgroupBroadcast(mine${r}, ${lane}u);`).join(' ')
    : `let dv = subgroupBroadcast(mine, ${lane}u); ${rs.map((r) => `let v${r} = ${groupComponent(tile, 'dv', r)};`).join(' ')}`;
}

/**
 * What would change the vector a fusible row helper reads between two of its calls: the row helpers read h_{t-1}
 * (hbuf), r ⊙ h_{t-1} (abuf) or x at step tt.
 */
const FUSIBLE: Record<string, RegExp> = {
  row_h: /\bput_h\(|\bhbuf\s*\[/,
  row_a: /\bput_a\(|\babuf\s*\[/,
  row_x: /\btt\s*=[^=]/,
};

/** The vector each fusible helper reads, by which fuseCalls groups them: row_x0 (shared's gate) reads x as row_x does. */
const READS: Record<string, keyof typeof FUSIBLE> = { row_h: 'row_h', row_a: 'row_a', row_x: 'row_x', row_x0: 'row_x' };

/** `text` without its line comments. */
const uncommented = (text: string) => text.replace(/\/\/[^\n]*/g, '');

/**
 * Where a statement can be put before the one holding position `pos`: the start of its line, if the code before
 * that line ends a statement or opens or closes a block; else undefined.
 */
export function statementStart(shader: string, pos: number): number | undefined {
  const lineStart = shader.lastIndexOf('\n', pos - 1) + 1;
  if (lineStart === 0) return undefined;
  const before = uncommented(shader.slice(0, lineStart)).trimEnd();
  return /[;{}]$/.test(before) ? lineStart : undefined;
}

/**
 * Groups (of two or more, indices into `calls`) of the calls of row helpers whose dot products one loop can
 * compute together, at the first one's statement: helpers reading the same vector (READS), nothing writing that
 * vector between them, each later call within the first one's block, and offsets made of uniforms alone (so they
 * can be evaluated there). On a CPU adapter a loop that loads h_j once for all its weight matrices runs 2–3×
 * faster than one loop each: workgroup-memory loads, not the multiply-adds, are what a dot product costs there.
 */
export function fuseCalls(shader: string, calls: readonly Call[]): number[][] {
  const groups: number[][] = [];
  const open = new Map<string, { group: number[]; from: number }>();
  const uniformArg = (arg: string) => /^[\s+*()-]*$/.test(arg.replace(/\bparams\.\w+/g, '').replace(/\b\d+u?\b/g, ''));
  calls.forEach((call, c) => {
    const reads = READS[call.name];
    if (!reads || call.args.length !== 1 || !uniformArg(call.args[0]!)) return;
    const writer = FUSIBLE[reads]!;
    const current = open.get(reads);
    if (current && joins(shader.slice(current.from, call.start), writer)) {
      current.group.push(c);
      return;
    }
    const from = statementStart(shader, call.start);
    if (from === undefined) {
      open.delete(reads);
      return;
    }
    const group = [c];
    groups.push(group);
    open.set(reads, { group, from });
  });
  return groups.filter((g) => g.length > 1);
}

/** Whether a call after `between` (from the group's statement on) can take its value from the group's loop. */
function joins(between: string, writer: RegExp): boolean {
  const code = uncommented(between);
  if (writer.test(code)) return false;
  let depth = 0;
  for (const ch of code) {
    if (ch === '{') depth++;
    else if (ch === '}' && --depth < 0) return false;
  }
  return true;
}

/**
 * WGSL of `name`: the dot products of n held matrices (pointers w<i>_<k>) against one vector in one loop, each
 * member's sum exactly the held helper's (one fused multiply-add per j, ascending), returned in order.
 */
function fusedHelper(tile: Tile, dims: HeldDims, name: string, kind: 'row' | 'x', buf: string, n: number, S = 0): string {
  const { rs, ks, xRows } = tileIndices(tile);
  const length = kind === 'x' ? dims.D : dims.H;
  const bound = kind === 'x' ? 'params.D' : 'params.H';
  const type = `array<f32, ${length}>`;
  const members = Array.from({ length: n }, (_, i) => i);
  const pointers = members.flatMap((i) => ks.map((k) => `w${i}_${k}: ptr<function, ${type}>`));
  const sums = (j: string) => members.map((i) => `{${ks.map((k) => ` let p${k} = (*w${i}_${k})[${j}];`).join('')} acc${i} = ${tileFma(tile, 'p', 'v', '', `acc${i}`)}; }`).join(' ');
  let loop: string;
  if (S > 0) {
    // Subgroup loads (subgroupLoop): hbuf and abuf are grouped (one vector of the group's sequences per unit).
    const source: Source = kind === 'x' ? (r, j) => `x[x${r} + ${j}]` : { vector: (j) => groupLoad(buf, j) };
    loop = subgroupLoop(S, length, bound, (j) => laneLoads(tile, source, j), (j, lane) => `{ ${laneValues(tile, source, lane)} ${sums(j)} }`);
  } else {
    const values = kind === 'x' ? rs.map((r) => `let v${r} = x[x${r} + j];`) : slotLoads(tile, buf, 'j', 'v');
    loop = `  for (var j = 0u; j < ${bound}; j++) {
    ${values.join(' ')}
    ${sums('j')}
  }`;
  }
  return `fn ${name}(${pointers.join(', ')}) -> array<V, ${n}> {
  ${kind === 'x' ? xRows : ''}
  ${members.map((i) => `var acc${i} = V(0.0);`).join(' ')}
${loop}
  return array<V, ${n}>(${members.map((i) => `acc${i}`).join(', ')});
}`;
}

/** `tile` as the backward kernel runs it: streamed where the tile holds its weights in the forward-like kernels only. */
export function backwardTile(tile: Tile): Tile {
  return tile.held === 'forward' ? { ...tile, held: false, dims: undefined } : tile;
}

/** `shader` as `tile` runs it: with its weights held when the tile says so (it must then carry its dims). */
export function tileShader(tile: Tile, rows: RowWeights, shader: string): string {
  if (tile.held && !tile.dims) throw new Error('a held tile (-p) needs the H and D it compiles in: settle it for the layer first (src/cells/tiles.ts)');
  const held = tile.held && tile.dims ? holdWeights(tile, tile.dims, rows, shader) : shader;
  if (tile.subgroup) return withSubgroupLane(held);
  // A tile whose split lanes add by subgroup shuffles (unit-sum.ts laneSum) needs the extension too (a split tile has
  // no CPU-form subgroup loads: src/cells/tiles.ts settles those for unsplit tiles alone).
  return tile.lanes === 'subgroup' ? `enable subgroups;\n${held}` : held;
}
