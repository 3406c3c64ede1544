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
  await probeSubgroups(device, (device as DeviceWithInfo).adapterInfo ?? adapter.info);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    device.destroy();
  };
  onRuntimeExit(release);
  return { device, adapter: summarizeAdapter(adapter, entry.runtime), release };
}

type SubgroupInfo = { subgroupMinSize?: number; subgroupMaxSize?: number };
type DeviceWithInfo = GPUDevice & { adapterInfo?: SubgroupInfo };

/** Devices whose subgroups were checked to be runs of S consecutive invocations (probeSubgroups), with their S. */
const subgroupRuns = new WeakMap<GPUDevice, number>();

/**
 * The subgroup size S of `device` if acquireDevice checked that its subgroups are S consecutive invocations of a
 * workgroup, lane i being invocation i of its run: what lwin's subgroup loads rely on (src/cells/tiles.ts
 * deviceSubgroupSize), which WebGPU does not promise. Undefined for a device lwin did not open (an embedder's).
 */
export function checkedSubgroupSize(device: GPUDevice): number | undefined {
  return subgroupRuns.get(device);
}

/**
 * Where the device has 'subgroups' and one subgroup size S, one workgroup of 256 invocations reports whether each
 * one's lane is its index mod S, and lane 0 of its subgroup its index's run start; all of them: S is recorded.
 * Anything else, or any error, records nothing (the kernels then load each value themselves).
 */
async function probeSubgroups(device: GPUDevice, info: SubgroupInfo | undefined): Promise<void> {
  const S = info?.subgroupMinSize;
  if (!device.features.has('subgroups') || !S || S !== info.subgroupMaxSize) return;
  const N = 256;
  const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> ok: array<u32>;
@compute @workgroup_size(${N}) fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  let first = subgroupBroadcast(i, 0u);
  ok[i] = select(0u, 1u, size == ${S}u && lane == i % ${S}u && first == i - i % ${S}u);
}`;
  const out = device.createBuffer({ label: 'subgroup probe', size: N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ label: 'subgroup probe readback', size: N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  device.pushErrorScope('validation');
  let threw = false;
  try {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(out, 0, read, 0, N * 4);
    device.queue.submit([encoder.finish()]);
  } catch {
    threw = true;
  }
  try {
    const error = await device.popErrorScope();
    if (threw || error) return; // no subgroup loads on this device
    await read.mapAsync(GPUMapMode.READ);
    const flags = new Uint32Array(read.getMappedRange().slice(0));
    read.unmap();
    if (flags.every((f) => f === 1)) subgroupRuns.set(device, S);
  } catch {
    // no subgroup loads on this device
  } finally {
    out.destroy();
    read.destroy();
  }
}
