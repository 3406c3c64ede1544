// The peer the issue measures lwin against: TF.js 4.22's tfjs-layers GRU/LSTM on tfjs-backend-webgpu, in this Node
// process, on lwin's own GPUDevice (so the same Dawn adapter, the same queue). A model is
// input [B,T,D] → GRU|LSTM(H, all steps) → Dense(1) on every step, MSE against y [B,T,1], Adam; one `trainOnBatch`
// is one training step (forward, BPTT through the unrolled steps, update) and returns the loss before the update.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { openGpu } from '../src/gpu/runtime.ts';

export type PeerCell = 'gru' | 'lstm';

export interface PeerSize {
  batch: number;
  steps: number;
  hidden: number;
  input: number;
}

/** TF.js's Adam with torch's defaults (TF.js's own eps default is 1e-7), the same rule lwin's adamw runs at wd 0. */
export const PEER_ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

// The name TF.js's WebGPU kernels are registered under.
const BACKEND = 'webgpu';
let registered: GPUDevice | undefined;

/**
 * Makes TF.js run on `device`. tfjs-backend-webgpu refuses to start without `navigator.gpu` (Node 20 has no
 * navigator), so it gets the Dawn `GPU` object from lwin's runtime; the backend itself is built on lwin's device
 * rather than one it would request, so both libraries use one adapter by construction.
 */
export async function useTfjsOn(device: GPUDevice): Promise<void> {
  if (registered && registered !== device) {
    throw new Error('TF.js is already set up on another GPUDevice in this process; run the peers bench with one device');
  }
  if (!registered) {
    const nav = ((globalThis as { navigator?: { gpu?: GPU } }).navigator ??= {} as { gpu?: GPU });
    nav.gpu ??= (await openGpu()).gpu;
    const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    // The package registers its own 'webgpu' factory at import where navigator.gpu already existed: replace it.
    if (tf.findBackendFactory(BACKEND)) tf.removeBackend(BACKEND);
    tf.registerBackend(BACKEND, () => new WebGPUBackend(device, info), 0);
    registered = device;
  }
  if (!(await tf.setBackend(BACKEND))) throw new Error(`TF.js could not start its WebGPU backend on lwin's device (tf.setBackend('${BACKEND}') returned false; its reason is printed above)`);
  await tf.ready();
}

export interface TfjsTrainer {
  /** One training step on the fixed batch; resolves to the MSE before the update. */
  step(): Promise<number>;
  dispose(): void;
}

/** A tfjs-layers model of `cell` at `size`, trained on the batch `x` [B·T·D], `y` [B·T] (row-major, batch first). */
export function tfjsTrainer(cell: PeerCell, size: PeerSize, x: Float32Array, y: Float32Array, seed = 1): TfjsTrainer {
  const { batch: B, steps: T, hidden: H, input: D } = size;
  // Glorot-uniform for the recurrent kernel too: TF.js's default orthogonal initializer runs a QR on the host and
  // warns above 2000 elements; the step's cost does not depend on the initial values.
  const init = (offset: number) => tfl.initializers.glorotUniform({ seed: seed + offset });
  const rnnConfig = {
    units: H, returnSequences: true, inputShape: [T, D], kernelInitializer: init(0), recurrentInitializer: init(1),
  };
  const model = tfl.sequential({ name: `tfjs-${cell}` });
  model.add(cell === 'gru' ? tfl.layers.gru(rnnConfig) : tfl.layers.lstm(rnnConfig));
  model.add(tfl.layers.dense({ units: 1, kernelInitializer: init(2) }));
  const { lr, beta1, beta2, eps } = PEER_ADAM;
  model.compile({ optimizer: tf.train.adam(lr, beta1, beta2, eps), loss: 'meanSquaredError' });
  const xs = tf.tensor3d(x, [B, T, D]);
  const ys = tf.tensor3d(y, [B, T, 1]);
  return {
    async step() {
      const loss = await model.trainOnBatch(xs, ys);
      return Array.isArray(loss) ? loss[0]! : loss;
    },
    dispose() {
      xs.dispose();
      ys.dispose();
      model.optimizer.dispose();
      model.dispose();
    },
  };
}
