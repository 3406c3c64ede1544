// `lwin`, the library for Node (and Deno through npm:): studies, training, diagnostics, statistics and the report,
// on a GPUDevice of the caller's or on one lwin acquires through Dawn. The browser entry is src/browser.ts; the
// statistics alone, for any runtime, src/stats/index.ts (`lwin/stats`).
// The GPU types (GPUDevice…) of the declarations come from @webgpu/types, a dependency.
/// <reference types="@webgpu/types" preserve="true" />
import type { StudyConfig } from './study/config.ts';
import { studyData } from './study/run.ts';
import { runStudyWith, type Study, type StudyInput, type StudyOptions } from './api/study.ts';

export * from './api/exports.ts';
export { nodeStorage } from './io/node-storage.ts';

/**
 * Runs a study as `lwin run` does: for each cell, train on the multi-lag task (or on `config.data`'s .npy files),
 * diagnose, estimate the statistics; the files go to `options.storage` (in memory by default; `nodeStorage()` for disk).
 * @param config - any part of the study config (cells, epochs, task, lagGrid…), merged over the quick preset and
 *   validated with `lwin run`'s schema and messages.
 * @param options - `device` (a GPUDevice; default: one from Dawn), `storage`, `out` (the folder, default 'study'), `onProgress`.
 * @returns the validated config, one record per cell (`cells[i].stats.windows`: Ĥ_N per budget), and the storage.
 * @example
 * const study = await runStudy({ cells: ['gru'], epochs: 2 }, { onProgress: (e) => e.kind === 'log' && console.log(e.line) });
 */
export function runStudy(config: StudyInput = {}, options: StudyOptions = {}): Promise<Study> {
  return runStudyWith((c: StudyConfig) => studyData(c), config, options);
}
