// SPEC §13 targets from .npy files: class labels saved by numpy as int64 (its default for integers) load exactly as
// the same labels saved as floats; an out-of-range label is refused, naming the file and element.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.ts';
import { loadHeadDataset } from '../../src/data/head-targets.ts';

const dir = mkdtempSync(join(tmpdir(), 'lwin-head-targets-'));

/** An int64 .npy as numpy writes it: writeNpy's float64 header relabelled, the values as little-endian int64. */
function int64File(name: string, values: number[]): string {
  const float = writeNpy([values.length], Float64Array.from(values));
  const bytes = new Uint8Array(Buffer.from(Buffer.from(float).toString('latin1').replace("'<f8'", "'<i8'"), 'latin1'));
  const view = new DataView(bytes.buffer);
  const data = bytes.length - 8 * values.length;
  values.forEach((v, i) => view.setBigInt64(data + 8 * i, BigInt(v), true));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('class labels as numpy saves them', () => {
  const [N, T, D] = [4, 3, 2];
  const x = file('x.npy', writeNpy([N, T, D], Float32Array.from({ length: N * T * D }, (_, i) => Math.sin(i))));
  const readout = { loss: 'ce', lossSteps: 'last' } as const;

  it('int64 labels [N] give the dataset float labels give', () => {
    const labels = [2, 0, 1, 2];
    const fromInts = loadHeadDataset(x, int64File('y-int.npy', labels), 3, readout);
    const fromFloats = loadHeadDataset(x, file('y-float.npy', writeNpy([N], Float32Array.from(labels))), 3, readout);
    expect([...fromInts.y]).toEqual([...fromFloats.y]);
    expect([...fromInts.x]).toEqual([...fromFloats.x]);
    // each label sits at its sequence's last step
    expect(fromInts.y[T - 1]).toBe(2);
    expect(fromInts.y[2 * T - 1]).toBe(0);
  });

  it('refuses a label outside the K classes, naming the file and element', () => {
    const y = int64File('y-bad.npy', [0, 1, 3, 0]);
    expect(() => loadHeadDataset(x, y, 3, readout)).toThrow(`Y file ${y} element 2 is 3; the ce loss takes class indices 0…2 (the readout has K=3 rows)`);
  });
});
