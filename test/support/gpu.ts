// One device per test file, and an error scope around every test so any WebGPU error fails it.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { acquireDevice, GpuContext, type AcquiredDevice } from '../../src/gpu/index.ts';

export interface GpuFixture {
  acquired: AcquiredDevice;
  ctx: GpuContext;
}

const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/**
 * Call at the top of a test file; the returned object is filled in before the first test runs. `defaultLimits`: a
 * device with WebGPU's default limits (128 MiB per binding), as the smallest adapters give.
 */
export function useGpu(options: { profile?: boolean; defaultLimits?: boolean } = {}): GpuFixture {
  const fixture = {} as GpuFixture;
  beforeAll(async () => {
    fixture.acquired = await acquireDevice({ defaultLimits: options.defaultLimits });
    fixture.ctx = new GpuContext(fixture.acquired.device, { adapter: fixture.acquired.adapter, profile: options.profile });
  });
  beforeEach(() => {
    for (const scope of SCOPES) fixture.acquired.device.pushErrorScope(scope);
  });
  afterEach(async () => {
    const errors = [];
    for (let i = SCOPES.length - 1; i >= 0; i--) errors.push(await fixture.acquired.device.popErrorScope());
    const caught = errors.filter((e) => e !== null);
    if (caught.length) throw new Error(`WebGPU error during the test: ${caught.map((e) => e!.message).join('; ')}`);
    fixture.ctx.check('the end of the test');
  });
  afterAll(() => {
    fixture.ctx?.destroy();
    fixture.acquired?.release();
  });
  return fixture;
}

/**
 * A second context on the fixture's device that takes its adapter for a GPU (not a fallback adapter, not named as a
 * software rasterizer): the GPU shapes of kernels that a CPU adapter runs otherwise (weight-gradient slices, the
 * autotune's shortlist). Kernels choosing by device (the dot products' unroll) still see the device as the CPU's.
 */
export function gpuLikeContext(gpu: GpuFixture): GpuContext {
  const adapter = { ...gpu.acquired.adapter, isFallbackAdapter: false, name: 'test GPU', description: 'test GPU', vendor: 'test', device: 'test' };
  return new GpuContext(gpu.ctx.device, { adapter });
}
