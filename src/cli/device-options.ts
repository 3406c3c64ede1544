// Device-selection flags shared by every command that opens a GPU.
import { Option, type Command } from 'commander';
import type { DeviceOptions } from '../gpu/device.ts';

export function addDeviceOptions(command: Command): Command {
  return command
    .option('--backend <name>', "Dawn backend in Node: vulkan, metal, d3d12, d3d11, opengl, opengles")
    .option('--adapter <name>', 'exact adapter name, as `lwin doctor --list-adapters` prints it')
    .addOption(new Option('--power <preference>', 'adapter power preference').choices(['high-performance', 'low-power']))
    .option('--fallback', 'use the software/fallback adapter only')
    .option('--default-limits', "open the device with WebGPU's default limits (128 MiB per binding), not the adapter's maximum")
    .option('--enable-toggle <toggle...>', 'Dawn toggles to enable (passed through)')
    .option('--disable-toggle <toggle...>', 'Dawn toggles to disable (passed through)');
}

export interface DeviceFlags {
  backend?: string;
  adapter?: string;
  power?: GPUPowerPreference;
  fallback?: boolean;
  defaultLimits?: boolean;
  enableToggle?: string[];
  disableToggle?: string[];
}

export function deviceOptionsFrom(flags: DeviceFlags): DeviceOptions {
  return {
    backend: flags.backend,
    adapterName: flags.adapter,
    powerPreference: flags.power,
    forceFallbackAdapter: flags.fallback,
    defaultLimits: flags.defaultLimits,
    enableToggles: flags.enableToggle,
    disableToggles: flags.disableToggle,
  };
}
