// A worker thread's share of the exact transport (transport-pool.ts): its pairs' terms, from its sequences' inputs.
import { parentPort, workerData } from 'node:worker_threads';
import type { ParamLayout } from '../model/params.ts';
import { transportPairTerms, type TransportPair } from './transport.ts';

interface TransportJob {
  layout: ParamLayout;
  params: Float32Array | Float64Array;
  x: Float32Array | Float64Array;
  steps: number;
  pairs: TransportPair[];
  lags: number[];
}

const job = workerData as TransportJob;
const { meanAbs } = transportPairTerms(job.layout, job.params, job.x, job.steps, job.pairs, job.lags);
parentPort!.postMessage(meanAbs, [meanAbs.buffer as ArrayBuffer]);
