// The matmul smoke check that the Deno script and the browser page both run, so their results compare field by
// field with each other and with Node's. Runtime-neutral: it takes an acquired device and returns a plain object.
import type { AcquiredDevice } from '../gpu/device.ts';
import type { RuntimeName } from '../gpu/runtime.ts';
import { GpuContext } from '../gpu/context.ts';
import { checkMatmul } from './selftest.ts';
import type { MatmulShape, MatmulVariant } from '../kernels/matmul.ts';
import type { Mismatch } from '../reference/compare.ts';

export interface SmokeRequest {
  shape: MatmulShape;
  seed: number;
  variant: MatmulVariant;
}

/** Rows and columns that are not multiples of the 64-wide tile, and K below the 16-deep K tile: every edge path. */
export const SMOKE_DEFAULTS: SmokeRequest = {
  shape: { batch: 2, m: 19, k: 13, n: 70 },
  seed: 1,
  variant: { transposeB: false, bias: false, strategy: 'tiled' },
};

/** Above this many outputs the result carries a checksum and samples instead of every value. */
export const MAX_LISTED_VALUES = 65_536;
const SAMPLE_COUNT = 8;

export interface SmokeResult {
  runtime: RuntimeName;
  runtimeVersion: string;
  /** AdapterSummary.name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [mesa/llvm, fallback]". */
  adapter: string;
  isFallbackAdapter: boolean;
  shape: MatmulShape;
  variant: MatmulVariant;
  seed: number;
  /** Every value within matmulTolerance of the float64 reference, as checked inside the runtime. */
  ok: boolean;
  count: number;
  mismatches: number;
  maxAbsError: number;
  /** The element with the largest error/tolerance ratio (ratio is null in JSON when infinite). */
  worst: Mismatch & { ratio: number };
  /** Σ c and Σ |c| in float64 over the f32 outputs, for results too large to list. */
  checksum: { sum: number; absSum: number };
  /** A few outputs at evenly spaced indices, always present. */
  samples: { index: number; value: number }[];
  /** Every output, row-major [batch, m, n], when count ≤ MAX_LISTED_VALUES. */
  values?: number[];
}

/** Reads a request from named options (URL query or `--name=value` arguments); absent names take the defaults. */
export function parseSmokeRequest(option: (name: string) => string | undefined): SmokeRequest {
  const defaults = SMOKE_DEFAULTS;
  const shapeText = option('shape');
  const seedText = option('seed');
  const strategy = option('strategy') ?? defaults.variant.strategy;
  if (strategy !== 'tiled' && strategy !== 'direct') {
    throw new Error(`strategy must be 'tiled' or 'direct', got '${strategy}'`);
  }
  return {
    shape: shapeText === undefined ? { ...defaults.shape } : parseShape(shapeText),
    seed: seedText === undefined ? defaults.seed : parseCount('seed', seedText, 0),
    variant: {
      strategy,
      transposeB: parseFlag('transposeB', option('transposeB'), defaults.variant.transposeB),
      bias: parseFlag('bias', option('bias'), defaults.variant.bias),
    },
  };
}

/** "BxMxKxN", e.g. "2x19x13x70". */
export function parseShape(text: string): MatmulShape {
  const parts = text.split(/[x×,]/);
  if (parts.length !== 4) throw new Error(`shape must be BxMxKxN (e.g. 2x19x13x70), got '${text}'`);
  const [batch, m, k, n] = parts.map((p, i) => parseCount(`shape[${'BMKN'[i]}]`, p, 1)) as [number, number, number, number];
  return { batch, m, k, n };
}

export function formatShape(shape: MatmulShape): string {
  return `${shape.batch}x${shape.m}x${shape.k}x${shape.n}`;
}

function parseCount(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${text}'`);
  return value;
}

function parseFlag(name: string, text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  if (text === '' || text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new Error(`${name} must be true or false, got '${text}'`);
}

/** Runs checkMatmul on `acquired.device` (the caller keeps ownership of the device). */
export async function runMatmulSmoke(acquired: Pick<AcquiredDevice, 'device' | 'adapter'>, request: SmokeRequest): Promise<SmokeResult> {
  const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter });
  try {
    const check = await checkMatmul(ctx, request.shape, request.variant, request.seed);
    ctx.check('the end of the matmul smoke check');
    const { comparison, values } = check;
    return {
      runtime: acquired.adapter.runtime,
      runtimeVersion: acquired.adapter.runtimeVersion,
      adapter: acquired.adapter.name,
      isFallbackAdapter: acquired.adapter.isFallbackAdapter,
      shape: request.shape,
      variant: request.variant,
      seed: request.seed,
      ok: comparison.ok,
      count: comparison.count,
      mismatches: comparison.mismatches,
      maxAbsError: comparison.maxAbsError,
      worst: comparison.worst,
      checksum: checksum(values),
      samples: samples(values),
      ...(values.length <= MAX_LISTED_VALUES ? { values: Array.from(values) } : {}),
    };
  } finally {
    ctx.destroy();
  }
}

function checksum(values: Float32Array): SmokeResult['checksum'] {
  let sum = 0;
  let absSum = 0;
  for (const v of values) {
    sum += v;
    absSum += Math.abs(v);
  }
  return { sum, absSum };
}

function samples(values: Float32Array): SmokeResult['samples'] {
  const count = Math.min(SAMPLE_COUNT, values.length);
  const picked: SmokeResult['samples'] = [];
  for (let s = 0; s < count; s++) {
    const index = count === 1 ? 0 : Math.round((s * (values.length - 1)) / (count - 1));
    picked.push({ index, value: values[index]! });
  }
  return picked;
}
