// The safetensors format's shared vocabulary: dtypes and their widths, a parsed header, and the error every
// reader raises (see safetensors.ts for the format, safetensors-model.ts for reading a model out of a file).

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

export class SafetensorsError extends Error {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = []) {
    super(message);
    this.name = 'SafetensorsError';
    this.problems = problems;
  }
}

export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In header order. */
  tensors: Map<string, TensorEntry>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
}
