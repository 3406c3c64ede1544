// Storage buffers, uploads and pooled MAP_READ staging buffers for readback.

export const STORAGE = 0x80 | 0x8 | 0x4; // STORAGE | COPY_DST | COPY_SRC (GPUBufferUsage values, fixed by the spec)
const MAP_READ = 0x1;
const COPY_DST = 0x8;
const UNIFORM = 0x40;

/** WebGPU copies and buffer sizes move in multiples of 4 bytes. */
export function align4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

/**
 * Refuses a storage buffer that no kernel could bind whole, before WebGPU does with a less helpful message.
 * Callers that need more split the work (sub-batches, checkpoints, streamed data).
 */
/**
 * Refuses a buffer smaller than an f32 array of `shape` (given in elements, like every shape in lwin), naming the
 * caller, the role and the buffer: the one size check of the kernel hosts, so none takes bytes and another floats.
 */
export function checkF32Buffer(owner: string, what: string, buffer: GPUBuffer, shape: readonly number[]): void {
  const bytes = 4 * shape.reduce((n, s) => n * s, 1);
  if (buffer.size < bytes) {
    throw new RangeError(`${owner}: ${what} buffer '${buffer.label}' has ${buffer.size} bytes, needs ${bytes} for [${shape.join(', ')}] f32`);
  }
}

/**
 * How a storage buffer is bound: `whole` (a kernel binds all of it, so it must fit maxStorageBufferBindingSize) or
 * `windows` (kernels bind parts of it, each checked by its caller, so only maxBufferSize bounds it: the forward's kept
 * dot products at the paper size are 2 GiB, 4 bytes over a GPU's binding limit, and are bound a dispatch's steps at a time).
 */
export type BoundAs = 'whole' | 'windows';

export function checkBindable(device: GPUDevice, label: string, bytes: number, binding: BoundAs = 'whole'): void {
  if (binding === 'windows') {
    const most = device.limits.maxBufferSize;
    if (bytes > most) {
      throw new RangeError(
        `buffer '${label}' needs ${bytes} bytes but this adapter creates buffers of at most ${most} bytes (maxBufferSize). ` +
          'Use a smaller batch, or checkpointed BPTT (checkpointEvery).',
      );
    }
    return;
  }
  const limit = device.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new RangeError(
      `buffer '${label}' needs ${bytes} bytes but this adapter binds at most ${limit} bytes per storage buffer ` +
        '(maxStorageBufferBindingSize). Use a smaller batch or diagnostic batch, or checkpointed BPTT (checkpointEvery).',
    );
  }
}

/** The size a storage buffer of `bytes` bytes is created with: 4-byte multiples, at least 4 (WebGPU binds no empty buffer). */
export function storageSize(bytes: number): number {
  return Math.max(4, align4(bytes));
}

export function createStorage(device: GPUDevice, label: string, bytes: number, usage = STORAGE, binding: BoundAs = 'whole'): GPUBuffer {
  checkBindable(device, label, bytes, binding);
  return device.createBuffer({ label, size: storageSize(bytes), usage });
}

/** A storage buffer holding `data` (written at creation, no queue round trip). */
export function uploadStorage(device: GPUDevice, label: string, data: ArrayBufferView, usage = STORAGE): GPUBuffer {
  checkBindable(device, label, data.byteLength);
  const buffer = device.createBuffer({ label, size: storageSize(data.byteLength), usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/**
 * Buffers of one usage reused across steps. Sizes are rounded up to powers of two so a few buffers serve every
 * request of a run; a buffer returns to the pool once the device is done with it.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly label: string,
  ) {}

  get buffersCreated(): number {
    return this.created;
  }

  acquire(bytes: number): GPUBuffer {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(align4(bytes))));
    const reused = this.free.get(size)?.pop();
    if (reused) return reused;
    this.created++;
    return this.device.createBuffer({ label: `${this.label}/${size}`, size, usage: this.usage });
  }

  release(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}

/** MAP_READ buffers for readbacks: a buffer returns once its mapping has been copied out. */
export class StagingPool extends BufferPool {
  constructor(device: GPUDevice) {
    super(device, MAP_READ | COPY_DST, 'staging');
  }
}

/**
 * Uniform buffers, one per step in flight: a step packs every dispatch's uniforms into one, at offsets the adapter
 * allows, and writes it with one queue write. A buffer made per dispatch cost ~20 µs of host time each, over half of
 * recording a paper-size training step (227 dispatches for gru).
 */
export class UniformPool extends BufferPool {
  constructor(device: GPUDevice) {
    super(device, UNIFORM | COPY_DST, 'uniforms');
  }
}

/** Maps `staging` (already holding the copied bytes) and returns a copy of its first `bytes` bytes. */
export async function copyOutOfStaging(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  await staging.mapAsync(MAP_READ, 0, align4(bytes));
  try {
    return staging.getMappedRange(0, align4(bytes)).slice(0, bytes);
  } finally {
    staging.unmap();
  }
}
