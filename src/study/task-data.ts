// A study's data from its multi-lag task (SPEC §1): the training set, a fresh validation set each epoch, and the
// diagnostic set, all drawn from the config's seeds. Host-only, so every runtime (the browser too) can use it;
// run.ts adds the user's .npy files on Node and Deno.
import { MultiLagTask } from '../data/task.ts';
import { validationSize } from '../data/dataset.ts';
import type { StudyConfig } from './config.ts';
import type { StudyData } from './pipeline.ts';
import type { TrainingData } from '../train/trainer.ts';
import type { SequenceData } from '../data/dataset.ts';
import { hostWorkers, runOnWorker } from '../diagnostics/worker-pool.ts';

export function taskStudyData(config: StudyConfig): StudyData {
  const task = new MultiLagTask(config.task);
  return { training: taskTrainingData(task, config.trainSequences, validationSize(config.batch)), diagnostic: task.diagnosticSet(config.diagSequences) };
}

/**
 * The task's training set and its validation set of each epoch (SPEC §1), drawn where it holds up the GPU least: on
 * a worker thread where there are some (src/diagnostics/worker-pool.ts), else a part after each queued batch.
 */
export function taskTrainingData(task: MultiLagTask, trainSequences: number, validationCount: number): TrainingData {
  const validation = (epoch: number) => task.validationSet(validationCount, epoch);
  return {
    train: task.trainingSet(trainSequences),
    validation,
    validationDraw: (epoch) => task.validationDraw(validationCount, epoch),
    ...(hostWorkers() && {
      validationLater: (epoch: number) => runOnWorker<SequenceData>({ kind: 'validation', task: task.config, count: validationCount, epoch }).catch(() => validation(epoch)),
    }),
  };
}
