// What every library entry exports (the Node one, src/index.ts, and the browser one, src/browser.ts): the calls,
// the device, the storages that need no file system, and the result types.
export { train, diagnose, diagnoseLayers, type TrainInput, type TrainCallOptions, type Trained, type DiagnoseOptions } from './model.ts';
export { report, studyConfig, type Study, type StudyInput, type StudyOptions } from './study.ts';
export type { DeviceOption } from './device.ts';
export { estimateAlpha, stable, ALPHA_METHODS, type AlphaMethod, type StableEstimate } from '../stats/index.ts';
export { acquireDevice, type AcquiredDevice, type AdapterSummary, type DeviceOptions } from '../gpu/device.ts';
export { GpuContext } from '../gpu/context.ts';
export { memoryStorage, type Storage } from '../io/storage.ts';
export { MultiLagTask } from '../data/task.ts';
export type { SequenceData } from '../data/dataset.ts';
export type { TrainingData } from '../train/trainer.ts';
export type { StudyConfig } from '../study/config.ts';
export type { CellRecord, StudyEvent } from '../study/pipeline.ts';
export type { CellStatistics } from '../study/statistics.ts';
export type { Diagnostics, LagDiagnostics } from '../diagnostics/result.ts';
export { LWIN_VERSION } from '../io/safetensors.ts';
