// GPU failures as JavaScript errors that say what failed, in which kernel, and what to do.

export class GpuError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No adapter could be found; the message lists what was tried and how to fix it. */
export class NoAdapterError extends GpuError {}

/** The device was lost (driver reset, `destroy()`, out of memory at the driver level, a watchdog). */
export class DeviceLostError extends GpuError {
  constructor(
    readonly reason: string,
    readonly detail: string,
    readonly during: string,
  ) {
    super(
      `GPU device lost during ${during} (reason: ${reason}${detail ? `; ${detail}` : ''}). ` +
        'Results computed after the loss were not returned. Acquire a new device and resume from the last checkpoint.',
    );
  }
}

/** A WebGPU validation, out-of-memory or internal error, caught in an error scope around a labelled piece of work. */
export class GpuValidationError extends GpuError {
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal',
    readonly during: string,
    readonly gpuMessage: string,
  ) {
    const hint =
      kind === 'out-of-memory'
        ? ' Reduce the batch size or the diagnostic batch, or use checkpointed BPTT.'
        : kind === 'validation'
          ? ' This is a bug in lwin (a kernel was given buffers or sizes it does not accept); please report it with this message.'
          : '';
    super(`WebGPU ${kind} error during ${during}: ${gpuMessage.trim()}.${hint}`);
  }
}

/** A shader failed to compile; carries the compiler's messages with line numbers. */
export class ShaderCompileError extends GpuError {}

const SCOPES = ['validation', 'out-of-memory', 'internal'] as const;

/**
 * Runs `work` inside validation, out-of-memory and internal error scopes and throws the first error any of
 * them caught. `during` names the work (a kernel or a step) so the message says where it happened.
 */
export async function withErrorScopes<T>(device: GPUDevice, during: string, work: () => T | Promise<T>): Promise<T> {
  for (const scope of SCOPES) device.pushErrorScope(scope);
  let result: T;
  let thrown: unknown;
  try {
    result = await work();
  } catch (error) {
    thrown = error;
  }
  // Pop in reverse order of pushing; all must be popped even when work threw.
  const caught: (GPUError | null)[] = [];
  for (let i = SCOPES.length - 1; i >= 0; i--) caught[i] = await device.popErrorScope();
  if (thrown !== undefined) throw thrown;
  for (let i = 0; i < SCOPES.length; i++) {
    const error = caught[i];
    if (error) throw new GpuValidationError(SCOPES[i]!, during, error.message);
  }
  return result!;
}
