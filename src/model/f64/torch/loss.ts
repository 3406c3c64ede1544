// The readout and losses of SPEC §13: ŷ_t = out.weight h^{(L-1)}_t + out.bias [K]; `mse` (K outputs) or `ce`
// (K classes), at every step (`all`) or the last only (`last`).
import type { FloatArray } from '../../params.ts';
import { addMatTVec, addMatVec } from '../math.ts';
import type { TorchParams } from './config.ts';

export type TorchLoss = 'mse' | 'ce';
export type LossSteps = 'all' | 'last';

export interface TorchTargets {
  loss: TorchLoss;
  lossSteps: LossSteps;
  /**
   * mse: [B,T,K] (or [B,K] with `last`); ce: class indices [B,T] (or [B] with `last`), integers in [0, K).
   * Only the steps where the loss is taken are read.
   */
  y: FloatArray;
}

export interface LossResult {
  loss: number;
  /** ∂L/∂ŷ [B,T,K]; 0 at steps without loss. */
  dYHat: Float64Array;
  /** ŷ - y (mse) or softmax(ŷ) - onehot(y) (ce) [B,T,K], unnormalised; 0 at steps without loss. */
  residual: Float64Array;
  /** ce: the fraction of loss steps whose argmax is the target (SPEC §13: accuracy replaces R²); mse: null. */
  accuracy: number | null;
}

/** ŷ [B,T,K] from the top layer's h [B,T,H]. */
export function readoutForward(params: TorchParams, top: Float64Array, rows: number): Float64Array {
  const { outputs, hiddenSize } = params.layout.config;
  const yHat = new Float64Array(rows * outputs);
  for (let row = 0; row < rows; row++) {
    const out = yHat.subarray(row * outputs, (row + 1) * outputs);
    if (params.readout.bias) out.set(params.readout.bias);
    addMatVec(out, params.readout.weight, top.subarray(row * hiddenSize, (row + 1) * hiddenSize));
  }
  return yHat;
}

/** The steps where the loss is taken. */
export function lossStepList(lossSteps: LossSteps, steps: number): number[] {
  return lossSteps === 'last' ? [steps - 1] : Array.from({ length: steps }, (_, t) => t);
}

export function torchLoss(yHat: Float64Array, targets: TorchTargets, batch: number, steps: number, outputs: number): LossResult {
  const taken = lossStepList(targets.lossSteps, steps);
  const perSequence = checkTargets(targets, batch, steps, outputs);
  const dYHat = new Float64Array(yHat.length);
  const residual = new Float64Array(yHat.length);
  const terms = batch * taken.length * (targets.loss === 'mse' ? outputs : 1);
  let sum = 0;
  let correct = 0;
  for (let b = 0; b < batch; b++) {
    for (const t of taken) {
      const row = (b * steps + t) * outputs;
      const at = perSequence ? b : b * steps + t; // index of the target (times K for mse)
      const logits = yHat.subarray(row, row + outputs);
      if (targets.loss === 'mse') {
        for (let k = 0; k < outputs; k++) {
          const r = logits[k]! - targets.y[at * outputs + k]!;
          residual[row + k] = r;
          sum += r * r;
        }
      } else {
        const label = targets.y[at]!;
        const max = Math.max(...logits);
        const z = logits.reduce((s, v) => s + Math.exp(v - max), 0);
        sum += max + Math.log(z) - logits[label]!;
        for (let k = 0; k < outputs; k++) residual[row + k] = Math.exp(logits[k]! - max) / z - (k === label ? 1 : 0);
        if (logits.indexOf(max) === label) correct++;
      }
    }
  }
  const scale = targets.loss === 'mse' ? 2 / terms : 1 / terms;
  for (let i = 0; i < residual.length; i++) dYHat[i] = residual[i]! * scale;
  return { loss: sum / terms, dYHat, residual, accuracy: targets.loss === 'ce' ? correct / (batch * taken.length) : null };
}

/** Whether y holds one target per sequence (`last` with [B,K] or [B]); throws on any other size or a bad class. */
function checkTargets(targets: TorchTargets, batch: number, steps: number, outputs: number): boolean {
  const width = targets.loss === 'mse' ? outputs : 1;
  const shape = targets.loss === 'mse' ? `[B,T,K] = [${batch},${steps},${outputs}]` : `[B,T] = [${batch},${steps}]`;
  const perSequence = targets.lossSteps === 'last' && targets.y.length === batch * width;
  if (!perSequence && targets.y.length !== batch * steps * width) {
    const alt = targets.lossSteps === 'last' ? ` or, with --loss-steps last, ${targets.loss === 'mse' ? `[B,K] = [${batch},${outputs}]` : `[B] = [${batch}]`}` : '';
    throw new Error(`${targets.loss} targets have ${targets.y.length} values; expected ${shape}${alt}`);
  }
  if (targets.loss === 'ce') {
    const bad = targets.y.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= outputs);
    if (bad >= 0) throw new Error(`ce targets must be class indices 0…${outputs - 1} (K=${outputs} readout rows); element ${bad} is ${targets.y[bad]}`);
  }
  return perSequence;
}

/** SPEC §13 δ_t = out.weightᵀ residual_t [B,T,H] (0 at steps without loss). */
export function outputErrors(params: TorchParams, residual: Float64Array, rows: number): Float64Array {
  const { outputs, hiddenSize } = params.layout.config;
  const delta = new Float64Array(rows * hiddenSize);
  for (let row = 0; row < rows; row++) {
    addMatTVec(delta.subarray(row * hiddenSize, (row + 1) * hiddenSize), params.readout.weight, residual.subarray(row * outputs, (row + 1) * outputs));
  }
  return delta;
}
