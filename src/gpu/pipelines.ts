// Compute pipelines, compiled once per shader variant.
import { ShaderCompileError } from './errors.ts';

/**
 * What the pipeline cache needs of a kernel variant: a family name that the profiler and error messages use, a key
 * naming everything that changes the WGSL text, and the text itself. Sizes that change per call (B, T, offsets)
 * are uniforms and never part of the key. Kernel modules declare a whole `Program` (program.ts), which is one.
 */
export interface KernelProgram {
  name: string;
  variantKey: string;
  source: () => string;
  entryPoint?: string;
}

export function programLabel(program: KernelProgram): string {
  return program.variantKey ? `${program.name}[${program.variantKey}]` : program.name;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  /** The compiled ones, for a lookup that needs no await (ready). */
  private readonly compiled = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  keys(): string[] {
    return [...this.pipelines.keys()];
  }

  get(program: KernelProgram): Promise<GPUComputePipeline> {
    const key = programLabel(program);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.compile(program, key);
      // A failed compile is not cached, so a fixed source (or a new device) can try again.
      pipeline.then((p) => this.compiled.set(key, p), () => this.pipelines.delete(key));
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** `program`'s pipeline if it is compiled already, else undefined (then get() compiles it, or waits for it). */
  ready(program: KernelProgram): GPUComputePipeline | undefined {
    return this.compiled.get(programLabel(program));
  }

  private async compile(program: KernelProgram, label: string): Promise<GPUComputePipeline> {
    const code = program.source();
    const module = this.device.createShaderModule({ label, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new ShaderCompileError(formatCompileErrors(label, code, errors));
    try {
      return await this.device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint: program.entryPoint ?? 'main' },
      });
    } catch (error) {
      throw new ShaderCompileError(`Pipeline '${label}' could not be created: ${(error as Error).message}`, { cause: error });
    }
  }
}

function formatCompileErrors(label: string, code: string, errors: readonly GPUCompilationMessage[]): string {
  const lines = code.split('\n');
  const shown = errors.map((m) => {
    const src = lines[m.lineNum - 1] ?? '';
    return `  line ${m.lineNum}:${m.linePos}: ${m.message}\n    ${src.trim()}`;
  });
  return `WGSL for kernel '${label}' does not compile:\n${shown.join('\n')}`;
}
