// GPU memory accounting: bytes of live buffers on a device and their peak, for benchmarks and memory budgets.
// WebGPU has no query for a device's memory use, so lwin counts what it allocates: the device's createBuffer is
// wrapped once, and every buffer's destroy() gives its bytes back. A buffer dropped without destroy() stays counted,
// which is what a leak should look like.

export class MemoryLedger {
  live = 0;
  peak = 0;
  buffers = 0;

  add(bytes: number): void {
    this.live += bytes;
    this.buffers++;
    if (this.live > this.peak) this.peak = this.live;
  }

  remove(bytes: number): void {
    this.live -= bytes;
    this.buffers--;
  }

  /** Starts a new peak measurement from what is live now. */
  resetPeak(): void {
    this.peak = this.live;
  }
}

const ledgers = new WeakMap<GPUDevice, MemoryLedger>();

export function trackMemory(device: GPUDevice): MemoryLedger {
  let ledger = ledgers.get(device);
  if (ledger) return ledger;
  const tracked = new MemoryLedger();
  ledger = tracked;
  ledgers.set(device, tracked);
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor): GPUBuffer => {
    const buffer = create(descriptor);
    const size = buffer.size;
    tracked.add(size);
    const destroy = buffer.destroy.bind(buffer);
    let freed = false;
    buffer.destroy = () => {
      if (!freed) {
        freed = true;
        tracked.remove(size);
      }
      destroy();
    };
    return buffer;
  };
  return tracked;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}
