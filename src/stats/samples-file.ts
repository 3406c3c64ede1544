// Reads a file of samples for `lwin alpha`: .npy (float32/float64, any shape, flattened) or text
// (.csv/.txt: numbers separated by commas, whitespace or newlines). Non-finite values are refused by name.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseNpy } from '../io/npy.ts';

export class SamplesFileError extends Error {
  override name = 'SamplesFileError';
}

const TEXT_EXTENSIONS = new Set(['.csv', '.txt', '.tsv', '.dat']);

/** Parses text samples; `source` names the file in messages. */
export function parseTextSamples(text: string, source: string): Float64Array {
  const values: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let line = 0; line < lines.length; line++) {
    for (const token of lines[line]!.split(/[,;\s]+/)) {
      if (token === '') continue;
      const value = Number(token);
      if (Number.isNaN(value) && !/^[+-]?nan$/i.test(token)) {
        throw new SamplesFileError(`${source}, line ${line + 1}: '${token}' is not a number; the file must hold only numbers, one per line or separated by commas`);
      }
      values.push(value);
    }
  }
  return Float64Array.from(values);
}

/** Throws, naming the first offender, if any value is NaN or infinite. */
export function requireFinite(values: ArrayLike<number>, source: string): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i]!)) continue;
    bad++;
    if (first < 0) first = i;
  }
  if (bad > 0) {
    throw new SamplesFileError(
      `${source} holds ${bad} non-finite value(s) (the first, ${values[first]}, at flat index ${first}); ` +
        'remove or replace NaN and ±Infinity before estimating (numpy: x = x[np.isfinite(x)])',
    );
  }
}

/** The samples of a .npy or text file as float64, flattened in C order, all finite. */
export function readSamplesFile(path: string): Float64Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new SamplesFileError(`cannot read samples file ${path}: ${(error as Error).message}`);
  }
  const extension = extname(path).toLowerCase();
  let samples: Float64Array;
  if (extension === '.npy') samples = Float64Array.from(parseNpy(bytes, path).data);
  else if (TEXT_EXTENSIONS.has(extension) || extension === '') samples = parseTextSamples(bytes.toString('utf8'), path);
  else throw new SamplesFileError(`${path}: unknown file type '${extension}'; give a .npy array or a .csv/.txt file of numbers`);
  if (samples.length === 0) throw new SamplesFileError(`${path} holds no samples`);
  requireFinite(samples, path);
  return samples;
}
