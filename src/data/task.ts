// The multi-lag regression task (SPEC §1, paper Eq. 27):
//   y_t = Σ_k c_k · (u · x_{t-ℓ_k})  [terms with t-ℓ_k < 0 omitted]  +  noiseStd · ε_t,   x_t, ε_t ~ N(0, 1) i.i.d.
//
// Seeding (seeds.ts): every set has its own stream derived from the task seed, so each can be regenerated alone.
//   u                         deriveSeed(seed, 'direction')   drawn once: D Gaussians, normalised
//   training set              deriveSeed(seed, 'train')
//   validation set of epoch e deriveSeed(seed, 'val', e)      fresh every epoch, same u (SPEC §1); resumable
//   diagnostic set            deriveSeed(seed, 'diag')
// Within a stream, sequences are drawn in order, each as its T·D inputs (t-major, then d) followed by its T noise
// draws; so the first m sequences of a set of n equal a set of m, and the inputs do not depend on noiseStd.
import type { Rng } from '../util/random.ts';
import type { SequenceData } from './dataset.ts';
import { fillStandardNormal, standardNormal } from './normal.ts';
import { streamRng } from './seeds.ts';

export interface TaskConfig {
  /** T, time steps per sequence. */
  steps: number;
  /** D, input features per step. */
  inputSize: number;
  /** ℓ_k, positive integers below T. */
  lags: readonly number[];
  /** c_k, one per lag. */
  coeffs: readonly number[];
  /** Standard deviation of the additive target noise. */
  noiseStd: number;
  /** Integer seed of u and of every data stream. */
  seed: number;
}

/** The paper's task (SPEC §1). The seed is lwin's default; the paper's runs vary it. */
export const PAPER_TASK: Readonly<TaskConfig> = Object.freeze({
  steps: 1024,
  inputSize: 16,
  lags: Object.freeze([32, 64, 128, 192, 256]),
  coeffs: Object.freeze([0.6, 0.5, 0.4, 0.32, 0.26]),
  noiseStd: 0.3,
  seed: 0,
});

/** A set drawn in parts: advance() draws up to that many more sequences (in order) and returns how many remain. */
export interface SequenceDraw {
  readonly remaining: number;
  advance(sequences: number): number;
  /** Draws what remains and returns the whole set. */
  finish(): SequenceData;
}

export class TaskConfigError extends Error {
  override name = 'TaskConfigError';
}

/** Largest typed array lwin allocates in one piece (V8's limit on typed-array length in Node 20). */
const MAX_ELEMENTS = 2 ** 32 - 1;

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new TaskConfigError(`task ${name} must be a positive integer, got ${value}`);
}

/** Refuses a configuration that cannot define the task, saying which field and why. */
export function validateTaskConfig(config: TaskConfig): void {
  requirePositiveInteger('steps (T)', config.steps);
  requirePositiveInteger('inputSize (D)', config.inputSize);
  const { lags, coeffs, steps } = config;
  if (lags.length === 0) throw new TaskConfigError('task lags are empty; give at least one lag (the paper uses 32,64,128,192,256)');
  if (lags.length !== coeffs.length) {
    throw new TaskConfigError(`task has ${lags.length} lags but ${coeffs.length} coefficients; give one coefficient per lag`);
  }
  lags.forEach((lag, k) => {
    if (!Number.isInteger(lag) || lag < 1 || lag >= steps) {
      throw new TaskConfigError(`task lag ${k} is ${lag}; lags must be integers in [1, T-1] = [1, ${steps - 1}]`);
    }
  });
  coeffs.forEach((c, k) => {
    if (!Number.isFinite(c)) throw new TaskConfigError(`task coefficient ${k} is ${c}; coefficients must be finite numbers`);
  });
  if (!Number.isFinite(config.noiseStd) || config.noiseStd < 0) {
    throw new TaskConfigError(`task noiseStd is ${config.noiseStd}; it must be a finite number ≥ 0`);
  }
  if (config.noiseStd === 0 && coeffs.every((c) => c === 0)) {
    throw new TaskConfigError('task targets would be identically zero (all coefficients 0 and noiseStd 0), which leaves R² undefined');
  }
  if (!Number.isSafeInteger(config.seed)) throw new TaskConfigError(`task seed must be an integer, got ${config.seed}`);
}

export class MultiLagTask {
  readonly config: Readonly<TaskConfig>;
  /** u of SPEC §1: a unit vector in R^D, drawn once from the task seed. */
  readonly direction: Float64Array;

  constructor(config: TaskConfig) {
    validateTaskConfig(config);
    this.config = Object.freeze({ ...config, lags: Object.freeze([...config.lags]), coeffs: Object.freeze([...config.coeffs]) });
    this.direction = new Float64Array(config.inputSize);
    const rng = streamRng(config.seed, 'direction');
    let norm = 0;
    // A zero draw is impossible in practice (every component exactly 0), but would divide by zero: redraw.
    while (norm === 0) {
      for (let d = 0; d < config.inputSize; d++) this.direction[d] = standardNormal(rng);
      norm = Math.sqrt(this.direction.reduce((sum, v) => sum + v * v, 0));
    }
    for (let d = 0; d < config.inputSize; d++) this.direction[d]! /= norm;
  }

  /** N sequences from `rng` (see the draw order above), filled in place in one x and one y array. */
  generate(count: number, rng: Rng, source = `multi-lag task (seed ${this.config.seed})`): SequenceData {
    return this.draw(count, rng, source).finish();
  }

  /**
   * The same N sequences as generate(), drawn a few at a time on request: the trainer draws an epoch's validation
   * set between its batches, while the device works, rather than in one piece while it waits.
   */
  draw(count: number, rng: Rng, source = `multi-lag task (seed ${this.config.seed})`): SequenceDraw {
    requirePositiveInteger('sequence count', count);
    const { steps, inputSize, lags, coeffs, noiseStd } = this.config;
    const perSequence = steps * inputSize;
    if (count * perSequence > MAX_ELEMENTS) {
      throw new TaskConfigError(`${count} sequences of [T, D] = [${steps}, ${inputSize}] need ${count * perSequence} input values, more than one array holds (${MAX_ELEMENTS}); generate fewer`);
    }
    const x = new Float32Array(count * perSequence);
    const y = new Float32Array(count * steps);
    const projection = new Float64Array(steps); // u · x_t of the current sequence, from the stored float32 inputs
    const noise = new Float64Array(steps);
    let n = 0;
    const advance = (sequences: number) => {
      for (const end = Math.min(count, n + Math.max(0, Math.floor(sequences))); n < end; n++) {
        fillStandardNormal(rng, x, n * perSequence, (n + 1) * perSequence);
        fillStandardNormal(rng, noise);
        this.project(x, n * perSequence, projection);
        const yOffset = n * steps;
        for (let t = 0; t < steps; t++) {
          let target = 0;
          for (let k = 0; k < lags.length; k++) {
            const past = t - lags[k]!;
            if (past >= 0) target += coeffs[k]! * projection[past]!; // SPEC §1: terms with t-ℓ_k < 0 are omitted
          }
          y[yOffset + t] = target + noiseStd * noise[t]!;
        }
      }
      return count - n;
    };
    return {
      get remaining() {
        return count - n;
      },
      advance,
      finish: () => {
        advance(count);
        return { x, y, count, steps, inputSize, source };
      },
    };
  }

  /** The training set: stream (seed, 'train'). */
  trainingSet(count: number): SequenceData {
    return this.generate(count, streamRng(this.config.seed, 'train'), `multi-lag task (seed ${this.config.seed}, train)`);
  }

  /** The validation set of epoch `epoch` (0-based): stream (seed, 'val', epoch), regenerable on resume. */
  validationSet(count: number, epoch: number): SequenceData {
    return this.validationDraw(count, epoch).finish();
  }

  /** The validation set of epoch `epoch`, drawn a few sequences at a time (see draw()). */
  validationDraw(count: number, epoch: number): SequenceDraw {
    if (!Number.isInteger(epoch) || epoch < 0) throw new TaskConfigError(`epoch must be a non-negative integer, got ${epoch}`);
    return this.draw(count, streamRng(this.config.seed, 'val', epoch), `multi-lag task (seed ${this.config.seed}, validation, epoch ${epoch})`);
  }

  /** The diagnostic set: stream (seed, 'diag'). */
  diagnosticSet(count: number): SequenceData {
    return this.generate(count, streamRng(this.config.seed, 'diag'), `multi-lag task (seed ${this.config.seed}, diagnostic)`);
  }

  /** Var of the noiseless target at step t: Σ c_k² over the lags with ℓ_k ≤ t (u · x ~ N(0, 1) as |u| = 1). */
  signalVarianceAt(t: number): number {
    let variance = 0;
    this.config.lags.forEach((lag, k) => {
      if (lag <= t) variance += this.config.coeffs[k]! ** 2;
    });
    return variance;
  }

  /** Var of the noiseless target once every lag contributes (t ≥ max ℓ_k): Σ c_k². */
  signalVariance(): number {
    return this.config.coeffs.reduce((sum, c) => sum + c * c, 0);
  }

  /**
   * The expected R² of the best possible predictor, E[y_t | x_0..x_t], under SPEC §3's pooled R² = 1 - SSE/SST
   * over all sequences and steps: its SSE is T·noiseStd² per sequence and SST is Σ_t (S_t + noiseStd²), S_t the
   * signal variance at step t (smaller over the first max ℓ_k steps, where fewer lags contribute; y has mean 0).
   * Trained models' R² stays below this, up to sampling error.
   */
  maxR2(): number {
    const noiseVariance = this.config.noiseStd ** 2;
    let total = 0;
    for (let t = 0; t < this.config.steps; t++) total += this.signalVarianceAt(t) + noiseVariance;
    return 1 - (this.config.steps * noiseVariance) / total;
  }

  /** projection[t] = u · x[n, t, :] for the sequence starting at `offset`. */
  private project(x: Float32Array, offset: number, projection: Float64Array): void {
    const { steps, inputSize } = this.config;
    const u = this.direction;
    for (let t = 0, i = offset; t < steps; t++) {
      let dot = 0;
      for (let d = 0; d < inputSize; d++, i++) dot += u[d]! * x[i]!;
      projection[t] = dot;
    }
  }
}
