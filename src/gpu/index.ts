export { acquireDevice, summarizeAdapter, OPTIONAL_FEATURES, RELIED_LIMITS, SOFTWARE_VULKAN_FIX } from './device.ts';
export type { AcquiredDevice, AdapterSummary, DeviceOptions } from './device.ts';
export { detectRuntime, type RuntimeName, type DawnOptions } from './runtime.ts';
export { GpuContext, type ContextOptions } from './context.ts';
export { Step, type Binding, type Workgroups } from './step.ts';
export { PipelineCache, programLabel, type KernelProgram } from './pipelines.ts';
export { Profiler, formatProfile, type ProfileReport, type KernelTiming } from './profiler.ts';
export { GpuError, NoAdapterError, DeviceLostError, GpuValidationError, ShaderCompileError, withErrorScopes } from './errors.ts';
export { wgslStruct, packStruct, unpackStruct, byteSizeOf } from './layout.ts';
