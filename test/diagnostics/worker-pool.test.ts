// Host worker threads: a job's result equals the calling thread's, workers are reused between jobs, and a job that
// fails rejects with its message without spoiling the next.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { runOnWorker } from '../../src/diagnostics/worker-pool.ts';
import { MultiLagTask, type TaskConfig } from '../../src/data/task.ts';
import type { SequenceData } from '../../src/data/dataset.ts';

// Count the worker threads started (Node's builtin Worker, wrapped; syncBuiltinESMExports reaches the pool's import).
const threads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
const Original = threads.Worker;
let started = 0;
threads.Worker = class extends Original {
  constructor(...args: ConstructorParameters<typeof Original>) {
    super(...args);
    started++;
  }
} as typeof Original;
syncBuiltinESMExports();
afterAll(() => {
  threads.Worker = Original;
  syncBuiltinESMExports();
});

const TASK: TaskConfig = { steps: 12, inputSize: 2, lags: [1, 3], coeffs: [0.5, -0.4], noiseStd: 0.2, seed: 5 };

describe('runOnWorker', () => {
  it('draws a validation set as the calling thread does, reusing one worker for jobs one after another', async () => {
    const before = started;
    for (const epoch of [0, 1, 2]) {
      const got = await runOnWorker<SequenceData>({ kind: 'validation', task: TASK, count: 5, epoch });
      const want = new MultiLagTask(TASK).validationSet(5, epoch);
      expect(got.x).toEqual(want.x);
      expect(got.y).toEqual(want.y);
      expect(got.source).toBe(want.source);
    }
    expect(started - before).toBe(1); // a fresh test file: no idle worker yet
  });

  it('rejects a job that fails, with its message, and runs the next', async () => {
    await expect(runOnWorker({ kind: 'validation', task: { ...TASK, lags: [40] , coeffs: [1] }, count: 2, epoch: 0 })).rejects.toThrow(/validation job failed: task lag 0 is 40/);
    const got = await runOnWorker<SequenceData>({ kind: 'validation', task: TASK, count: 2, epoch: 4 });
    expect(got.y).toEqual(new MultiLagTask(TASK).validationSet(2, 4).y);
  });
});
