// WGSL snippets shared by several kernels. Each is imported where needed, never pasted.

/**
 * Error-free transformations for compensated f32 sums (Knuth's TwoSum). A value is carried as an unevaluated
 * pair (hi, lo) with hi + lo ≈ the exact sum to about 2^-48 relative.
 *
 * Shader compilers treat f32 arithmetic as reassociable (Mesa's NIR rewrites (a + b) - a to b unless an
 * instruction is marked exact, and WGSL has no way to mark it), which silently turns TwoSum into a plain sum.
 * Multiplying by `one`, a run-time 1.0 the compiler cannot see through (a uniform field), is exact and blocks
 * those rewrites. `oneExpr` names that value in the including shader, e.g. 'params.one'.
 */
export function compensatedSum(oneExpr: string): string {
  return /* wgsl */ `
// Returns (s, e) with s = fl(a + b) and a + b = s + e exactly.
fn two_sum(a: f32, b: f32) -> vec2f {
  let one = ${oneExpr};
  let s = (a + b) * one;
  let bb = (s - a) * one;
  let e = (a - (s - bb)) + (b - bb);
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
  let lo = t.y + (a.y + b.y);
  return two_sum(t.x, lo);
}
`;
}

/**
 * Grids with more rows of workgroups than maxComputeWorkgroupsPerDimension fold the extra rows into z;
 * this recovers the row index. The host side is `foldRows` in src/kernels/grid.ts.
 */
export const foldedRow = /* wgsl */ `
fn folded_row(wg: vec3u, nwg: vec3u) -> u32 {
  return wg.z * nwg.y + wg.y;
}
`;
