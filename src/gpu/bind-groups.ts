// Bind groups kept across steps. A training step records the same dispatches on the same buffers batch after batch
// (scratch and uniform buffers come back from their pools), so its bind groups repeat too: creating them anew took
// ~15 µs each, over half of encoding a paper-size step (227 dispatches for gru).
/** A bound range of a buffer: the whole buffer when offset and size are absent. */
export interface BoundRange {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<GPUBuffer | GPUComputePipeline, number>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private nextId = 0;

  /** `capacity`: groups kept before all are dropped (steps of other shapes, buffers since destroyed). */
  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 4096,
  ) {}

  get size(): number {
    return this.groups.size;
  }

  /**
   * The bind group of `pipeline` binding `entries` in order. Buffers are told apart by identity (a destroyed
   * buffer's groups are never asked for again: binding it would be an error anyway).
   */
  get(pipeline: GPUComputePipeline, entries: readonly BoundRange[], label: string): GPUBindGroup {
    let key = `${this.id(pipeline)}`;
    for (const e of entries) key += `,${this.id(e.buffer)}@${e.offset ?? 0}+${e.size ?? '*'}`;
    const cached = this.groups.get(key);
    if (cached) return cached;
    if (this.groups.size >= this.capacity) this.groups.clear();
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    const group = this.device.createBindGroup({ label, layout, entries: entries.map((resource, binding) => ({ binding, resource })) });
    this.groups.set(key, group);
    return group;
  }

  clear(): void {
    this.groups.clear();
  }

  private id(object: GPUBuffer | GPUComputePipeline): number {
    let id = this.ids.get(object);
    if (id === undefined) this.ids.set(object, (id = this.nextId++));
    return id;
  }
}
