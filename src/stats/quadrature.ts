// Gauss–Legendre quadrature on panels, for the Gil-Pelaez integrals of SPEC §11.
// Nodes come from Newton's method on the Legendre recurrence; nothing is tabulated.

export interface GaussLegendreRule {
  /** Nodes on [-1, 1], ascending. */
  nodes: Float64Array;
  weights: Float64Array;
}

const ruleCache = new Map<number, GaussLegendreRule>();

/** P_n(x) and P_n'(x) by the three-term recurrence. */
function legendreWithDerivative(n: number, x: number): [number, number] {
  let previous = 1;
  let current = x;
  for (let k = 2; k <= n; k++) {
    const next = ((2 * k - 1) * x * current - (k - 1) * previous) / k;
    previous = current;
    current = next;
  }
  const derivative = (n * (x * current - previous)) / (x * x - 1);
  return [current, derivative];
}

/** The n-point Gauss–Legendre rule (n ≥ 2), cached. Exact for polynomials of degree ≤ 2n-1. */
export function gaussLegendre(n: number): GaussLegendreRule {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`Gauss–Legendre order must be an integer ≥ 2, got ${n}`);
  const cached = ruleCache.get(n);
  if (cached) return cached;
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    // Tricomi's approximation of the i-th largest root, then Newton until the step is at rounding level.
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 1;
    for (let iteration = 0; iteration < 100; iteration++) {
      const [value, slope] = legendreWithDerivative(n, x);
      derivative = slope;
      const step = value / slope;
      x -= step;
      if (Math.abs(step) < 1e-16) break;
    }
    derivative = legendreWithDerivative(n, x)[1];
    const weight = 2 / ((1 - x * x) * derivative * derivative);
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = weight;
    weights[n - 1 - i] = weight;
  }
  const rule = { nodes, weights };
  ruleCache.set(n, rule);
  return rule;
}

/** ∫_a^b g(t) dt by one application of the rule. */
export function integratePanel(g: (t: number) => number, a: number, b: number, rule: GaussLegendreRule): number {
  const half = 0.5 * (b - a);
  const mid = 0.5 * (a + b);
  let sum = 0;
  for (let i = 0; i < rule.nodes.length; i++) sum += rule.weights[i]! * g(mid + half * rule.nodes[i]!);
  return half * sum;
}
