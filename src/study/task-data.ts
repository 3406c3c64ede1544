// A study's data from its multi-lag task (SPEC §1): the training set, a fresh validation set each epoch, and the
// diagnostic set, all drawn from the config's seeds. Host-only, so every runtime (the browser too) can use it;
// run.ts adds the user's .npy files on Node and Deno.
import { MultiLagTask } from '../data/task.ts';
import { validationSize } from '../data/dataset.ts';
import type { StudyConfig } from './config.ts';
import type { StudyData } from './pipeline.ts';

export function taskStudyData(config: StudyConfig): StudyData {
  const task = new MultiLagTask(config.task);
  const val = validationSize(config.batch);
  return {
    training: { train: task.trainingSet(config.trainSequences), validation: (epoch) => task.validationSet(val, epoch), validationDraw: (epoch) => task.validationDraw(val, epoch) },
    diagnostic: task.diagnosticSet(config.diagSequences),
  };
}
