// Host work lwin hands to worker threads (worker-pool.ts): plain data in, plain data out, the same code as on the calling
// thread, so a job's result is the same bits wherever it runs.
import type { ParamLayout } from '../model/params.ts';
import { transportPairTerms, type TransportPair } from './transport.ts';
import { MultiLagTask, type TaskConfig } from '../data/task.ts';

export type HostJob =
  /** SPEC §6: the exact transport's terms of some pairs (meanAbs [pairs, lags]), from their sequences' inputs. */
  | { kind: 'transport'; layout: ParamLayout; params: Float32Array | Float64Array; x: Float32Array | Float64Array; steps: number; pairs: TransportPair[]; lags: number[] }
  /** SPEC §1: the validation set of an epoch of the multi-lag task. */
  | { kind: 'validation'; task: TaskConfig; count: number; epoch: number };

/** Runs `job`; returns its result and the buffers to transfer rather than copy. */
export function runJob(job: HostJob): { value: unknown; transfer: ArrayBuffer[] } {
  if (job.kind === 'transport') {
    const { meanAbs } = transportPairTerms(job.layout, job.params, job.x, job.steps, job.pairs, job.lags);
    return { value: meanAbs, transfer: [meanAbs.buffer as ArrayBuffer] };
  }
  const set = new MultiLagTask(job.task).validationSet(job.count, job.epoch);
  return { value: set, transfer: [set.x.buffer as ArrayBuffer, set.y.buffer as ArrayBuffer] };
}
