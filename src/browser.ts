// `lwin/browser`: the library for web pages, on `navigator.gpu` (or a GPUDevice the page holds). The same calls as
// the Node entry, with the study's data from its task (a page has no .npy files on disk) and files kept in memory.
// Bundlers: the trainer's Node-only helpers (node:*, write-file-atomic, cli-progress) are never called here; map
// them to an empty module (README, "Use it from your code").
// The GPU types (GPUDevice…) of the declarations come from @webgpu/types, a dependency.
/// <reference types="@webgpu/types" preserve="true" />
export * from './api/exports.ts';
export { runStudy } from './api/study.ts';
