// Finding an adapter and opening a device with the features and limits lwin uses.
import { NoAdapterError } from './errors.ts';
import { openGpu, onRuntimeExit, runtimeVersion, type DawnOptions, type RuntimeName } from './runtime.ts';

export interface DeviceOptions extends DawnOptions {
  powerPreference?: GPUPowerPreference;
  /** Accept only a software/fallback adapter (useful to force lavapipe on a machine with a GPU). */
  forceFallbackAdapter?: boolean;
  /**
   * Open the device with WebGPU's default limits (128 MiB per storage binding, 256 MiB per buffer, …) instead of
   * raising RELIED_LIMITS to the adapter's maximum: shows that the work fits any conforming adapter.
   */
  defaultLimits?: boolean;
}

export interface AdapterSummary {
  runtime: RuntimeName;
  runtimeVersion: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** One line for tables and benchmark headers, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [mesa/llvm, fallback]". */
  name: string;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  /** Destroys the device; safe to call twice. Also runs automatically when a Node process exits. */
  release(): void;
}

/** Optional features lwin turns on when the adapter offers them. */
export const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

/** Limits lwin relies on, raised to the adapter's maximum (the defaults are too small for the paper's data). */
export const RELIED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const satisfies readonly (keyof GPUSupportedLimits)[];

// PCI/Khronos vendor IDs some runtimes report instead of a name (Deno gives the decimal ID).
const VENDOR_IDS: Record<number, string> = {
  0x10de: 'nvidia', 0x1002: 'amd', 0x8086: 'intel', 0x106b: 'apple', 0x13b5: 'arm', 0x5143: 'qualcomm',
  0x1ae0: 'google', 0x10005: 'mesa', 0x1010: 'imagination', 0x14e4: 'broadcom',
};

function vendorName(vendor: string): string {
  const id = /^(0x[0-9a-f]+|\d+)$/i.test(vendor) ? Number(vendor) : NaN;
  return VENDOR_IDS[id] ?? vendor;
}

export function summarizeAdapter(adapter: GPUAdapter, runtime: RuntimeName): AdapterSummary {
  const info = adapter.info;
  const vendor = vendorName(info.vendor);
  // Older runtimes put isFallbackAdapter on the adapter, newer ones on its info.
  const isFallbackAdapter = Boolean(
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
  const description = info.description || info.device || '(no description)';
  const tags = [[vendor, info.architecture].filter(Boolean).join('/'), isFallbackAdapter ? 'fallback' : '']
    .filter(Boolean)
    .join(', ');
  return {
    runtime,
    runtimeVersion: runtimeVersion(runtime),
    vendor,
    architecture: info.architecture,
    device: info.device,
    description,
    isFallbackAdapter,
    name: tags ? `${description} [${tags}]` : description,
  };
}

export const SOFTWARE_VULKAN_FIX = [
  'On Linux without a GPU, install Mesa\'s software Vulkan driver (lavapipe). Debian 12 needs Mesa from bookworm-backports',
  '(its own Mesa 22 is too old for Dawn). From the lwin checkout, as root:',
  '  bash .ci/install-vulkan',
  'which adds the backports suite from your existing Debian source and runs:',
  '  apt-get update && apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers',
  'On other systems, install the vendor GPU driver (Vulkan on Linux); check with `vulkaninfo --summary`.',
].join('\n');

/**
 * Why no adapter came back, and what to do: a named adapter or backend that is not there is a typo or a wrong
 * choice (list what is there); only when Dawn sees nothing at all is a driver missing (the software Vulkan fix).
 */
export async function noAdapterError(tried: string[], options: DeviceOptions, listAdapters: () => Promise<string[]>): Promise<NoAdapterError> {
  const seen = await listAdapters().catch(() => []);
  const visible = `Adapters Dawn can see:\n${seen.map((s) => `  * ${s}`).join('\n')}`;
  if (seen.length && options.adapterName) {
    return new NoAdapterError(
      [
        `There is no adapter named '${options.adapterName}'${options.backend ? ` on backend '${options.backend}'` : ''} (--adapter).`,
        visible,
        "Pass one of these names to --adapter (the part after 'backend: '), or leave --adapter out to take the default adapter.",
      ].join('\n'),
    );
  }
  if (seen.length && options.backend) {
    return new NoAdapterError(
      [`Dawn found no adapter on backend '${options.backend}' (--backend).`, visible, "Choose one of their backends (the part before ':') with --backend, or leave --backend out."].join('\n'),
    );
  }
  const lines = [`No WebGPU adapter found. Tried: ${tried.join('; ')}.`, seen.length ? visible : 'Dawn sees no adapters at all.', SOFTWARE_VULKAN_FIX];
  return new NoAdapterError(lines.join('\n'));
}

export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  const entry = await openGpu(options);
  const tried: string[] = [];
  const attempts: GPURequestAdapterOptions[] = options.forceFallbackAdapter
    ? [{ forceFallbackAdapter: true }]
    : [{ powerPreference: options.powerPreference ?? 'high-performance' }, { forceFallbackAdapter: true }];
  let adapter: GPUAdapter | null = null;
  for (const attempt of attempts) {
    tried.push(`${entry.source}${attempt.forceFallbackAdapter ? ' (fallback adapter)' : ''}`);
    try {
      adapter = await entry.gpu.requestAdapter(attempt);
    } catch (error) {
      tried[tried.length - 1] += ` -> ${String((error as Error).message ?? error).split('\n')[0]}`;
    }
    if (adapter) break;
  }
  if (!adapter) throw await noAdapterError(tried, options, entry.listAdapters);

  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  if (!options.defaultLimits) for (const name of RELIED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ label: 'lwin', requiredFeatures, requiredLimits });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    device.destroy();
  };
  onRuntimeExit(release);
  return { device, adapter: summarizeAdapter(adapter, entry.runtime), release };
}
