// Seeded initialisation of a model's parameters (SPEC §2), mirroring the reference modules' constructors:
//   1. every Linear weight and bias ~ U(-1/√fan_in, 1/√fan_in) (PyTorch's default; fan_in = in features);
//      LayerNorm weight = 1, bias = 0;
//   2. Wx.bias = 0 (const/shared/diag/linear), out.bias = 0 (all); shared/diag: Ws.weight = Us.weight = 0,
//      Ws.bias = logit(const_s); const: s_const = const_s;
//   3. if orthogonal: every Linear weight except Ws, Us is replaced by a (semi-)orthogonal matrix of its shape;
//   4. every Linear weight is multiplied by `scale` (SPEC §12's init_scale; 1 leaves the reference's init as is).
// Random numbers are drawn in layout order: first one uniform per Linear element (also for elements that step 2
// or 3 overwrite, as PyTorch does), then one Gaussian matrix per orthogonal weight, row-major in its shape.
// The reference clips const_s to [1e-6, 1 - 1e-6]; so does this.
import { Rng } from '../util/random.ts';
import { semiOrthogonal } from './f64/linalg.ts';
import { GATE_LAYERS_SKIPPING_ORTHOGONAL, LAYERNORM_PREFIX, isTorchCell } from './cells.ts';
import { allocateParams, getTensorSpec, TensorViews, type ParamLayout, type TensorSpec } from './params.ts';

export const DEFAULT_CONST_S = 0.05;
const GATE_CLIP = 1e-6;

export interface InitOptions {
  seed: number;
  /** The const cell's fixed gate, and the initial gate of shared/diag (via Ws.bias). Default 0.05. */
  constS?: number;
  /** Orthogonal init of the Linear weights (paper default: true). */
  orthogonal?: boolean;
  /** Multiplies every Linear weight at the end (SPEC §12 `init_scale`; default 1). Biases, LayerNorm, s_const stay. */
  scale?: number;
}

/** const_s as the reference stores it: clipped to [1e-6, 1 - 1e-6]. */
export function clipGateValue(constS: number): number {
  if (!Number.isFinite(constS) || constS < 0 || constS > 1) throw new Error(`const_s must lie in [0, 1], got ${constS}`);
  return Math.min(Math.max(constS, GATE_CLIP), 1 - GATE_CLIP);
}

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

export function initParams(layout: ParamLayout, options: InitOptions): Float64Array {
  const params = allocateParams(layout);
  const views = new TensorViews(layout, params);
  const rng = new Rng(options.seed);
  const constS = clipGateValue(options.constS ?? DEFAULT_CONST_S);
  const cell = layout.config.cell;
  const lnPrefix = `${LAYERNORM_PREFIX[cell]}.`;

  for (const t of layout.tensors) {
    const values = views.get(t.name);
    if (t.name.startsWith(lnPrefix)) values.fill(t.name.endsWith('.weight') ? 1 : 0);
    else if (t.name === 's_const') values[0] = constS;
    else {
      const bound = 1 / Math.sqrt(linearFanIn(layout, t));
      rng.fillUniform(values, -bound, bound);
    }
  }

  if (views.has('Wx.bias')) views.get('Wx.bias').fill(0); // every cell with a Wx layer: const, shared, diag, linear
  views.get('out.bias').fill(0);
  if (cell === 'shared' || cell === 'diag') {
    views.get('Ws.weight').fill(0);
    views.get('Us.weight').fill(0);
    views.get('Ws.bias').fill(logit(constS));
  }

  if (options.orthogonal ?? true) {
    for (const t of orthogonalWeights(layout)) {
      const [rows, cols] = t.shape as [number, number];
      const gaussian = rng.fillNormal(new Float64Array(rows * cols)) as Float64Array;
      views.get(t.name).set(semiOrthogonal(gaussian, rows, cols));
    }
  }
  const scale = options.scale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`init_scale must be a positive number, got ${scale}`);
  if (scale !== 1) {
    for (const t of layout.tensors) if (t.shape.length === 2) views.get(t.name).forEach((v, i, a) => (a[i] = v * scale));
  }
  return params;
}

/** The Linear weights that orthogonal init replaces, in layout order (every 2-D weight except Ws, Us). */
export function orthogonalWeights(layout: ParamLayout): TensorSpec[] {
  const skip = new Set(GATE_LAYERS_SKIPPING_ORTHOGONAL[layout.config.cell].map((layer) => `${layer}.weight`));
  return layout.tensors.filter((t) => t.shape.length === 2 && !skip.has(t.name));
}

/** in_features of the Linear layer that owns tensor t (`X.weight` [out,in] or `X.bias` [out]); H for PyTorch's recurrent tensors. */
export function linearFanIn(layout: ParamLayout, t: TensorSpec): number {
  // PyTorch's recurrent layers draw every weight and bias from U(-1/√H, 1/√H) (SPEC §13)
  if (isTorchCell(layout.config.cell) && !t.name.startsWith('out.')) return layout.config.hiddenSize;
  const layer = t.name.slice(0, t.name.lastIndexOf('.'));
  const weight = getTensorSpec(layout, `${layer}.weight`);
  return weight.shape[1]!;
}
