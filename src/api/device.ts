// Where the library's calls get their GPU: the caller's own GPUDevice (a browser page, a Deno script, a training loop
// that already holds one), or one lwin acquires (Dawn on Node, navigator.gpu elsewhere) and releases after the call.
import { acquireDevice, type AdapterSummary, type DeviceOptions } from '../gpu/device.ts';
import { GpuContext } from '../gpu/context.ts';

/** The GPU a library call runs on. */
export interface DeviceOption {
  /**
   * A WebGPU device to run on (kept open after the call), or lwin's own GpuContext. Absent: lwin acquires a device
   * (Dawn in Node, `navigator.gpu` in Deno and browsers) with `deviceOptions`, and releases it when the call ends.
   */
  device?: GPUDevice | GpuContext;
  /** How to acquire a device when `device` is absent (Dawn backend, adapter name, fallback adapter). */
  deviceOptions?: DeviceOptions;
}

/** Runs `work` on the caller's device, or on one acquired for it and released afterwards (also on failure). */
export async function withDevice<T>(option: DeviceOption, work: (ctx: GpuContext, adapter: AdapterSummary | undefined) => Promise<T>): Promise<T> {
  if (option.device instanceof GpuContext) return work(option.device, undefined);
  if (option.device) return work(new GpuContext(option.device), undefined);
  const acquired = await acquireDevice(option.deviceOptions);
  try {
    return await work(new GpuContext(acquired.device, { adapter: acquired.adapter }), acquired.adapter);
  } finally {
    acquired.release();
  }
}
