// WGSL snippets shared by several kernels. Each is imported where needed, never pasted.

/**
 * Error-free transformations for compensated f32 sums (Knuth's TwoSum). A value is carried as an unevaluated
 * pair (hi, lo) with hi + lo ≈ the exact sum to about 2^-48 relative.
 *
 * Shader compilers treat f32 arithmetic as reassociable (Mesa's NIR rewrites (a + b) - a to b unless an
 * instruction is marked exact, and WGSL has no way to mark it), which silently turns TwoSum into a plain sum.
 * Multiplying by a run-time 1.0 blocks some rewrites but not all (a chain `pair_add(acc, two_sum(x, y))` still
 * lost its error term on lavapipe). So every intermediate whose rounding matters goes through `opaque`: its bits
 * XOR a run-time zero derived from `oneExpr` (a uniform that is always 1.0), which no compiler can see through.
 * `oneExpr` names that uniform in the including shader, e.g. 'params.one'.
 */
export function compensatedSum(oneExpr: string): string {
  return /* wgsl */ `
// x itself, computed so that no compiler can know it: x's bits XOR a run-time zero.
fn opaque(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ (bitcast<u32>(${oneExpr}) ^ 0x3f800000u));
}

// (s, e) with s = fl(a + b) and a + b = s + e exactly (Knuth).
fn two_sum(a: f32, b: f32) -> vec2f {
  let s = opaque(a + b);
  let bb = opaque(s - a);
  let e = (a - opaque(s - bb)) + (b - bb);
  return vec2f(s, e);
}

// Adds x to the pair acc = (hi, lo).
fn pair_add_scalar(acc: vec2f, x: f32) -> vec2f {
  let t = two_sum(acc.x, x);
  return vec2f(t.x, acc.y + t.y);
}

// Adds two pairs and renormalises so |lo| <= ulp(hi)/2.
fn pair_add(a: vec2f, b: vec2f) -> vec2f {
  let t = two_sum(a.x, b.x);
  return two_sum(t.x, t.y + (a.y + b.y));
}
`;
}

/**
 * Grids with more rows of workgroups than maxComputeWorkgroupsPerDimension fold the extra rows into z;
 * this recovers the row index. The host side is `foldRows` in src/gpu/grid.ts.
 */
export const foldedRow = /* wgsl */ `
fn folded_row(wg: vec3u, nwg: vec3u) -> u32 {
  return wg.z * nwg.y + wg.y;
}
`;
