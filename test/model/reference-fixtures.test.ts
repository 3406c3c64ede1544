// State_dicts saved from the paper's own PyTorch modules (test/fixtures/reference/make.py imports them from the
// reference scripts): lwin reads each bare file (no __metadata__) by inferring the cell, D, H and LayerNorm from
// the tensor names and shapes, and its float64 forward reproduces the module's output on the same input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNamedTensors, readSafetensors } from '../../src/io/safetensors.ts';
import { GATED_CELL_KINDS, TensorViews, type ModelConfig } from '../../src/model/index.ts';
import { referenceForward } from '../../src/reference/cells/index.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'reference');
const CASES = GATED_CELL_KINDS.flatMap((cell) => [true, false].map((layernorm) => ({ name: `${cell}_ln${layernorm ? 'on' : 'off'}`, cell, layernorm })));

// Same weights and input in float64 on both sides; only the order of summation differs.
const TOLERANCE = { abs: 1e-12, rel: 1e-12 };

describe.each(CASES)('reference module $name', ({ name, cell, layernorm }) => {
  const file = join(FIXTURES, `${name}.safetensors`);
  const model = readSafetensors(readFileSync(file), { source: file });

  it('is read without metadata as the cell it is, at D=3, H=4', () => {
    const expected: ModelConfig = { cell, inputSize: 3, hiddenSize: 4, layernorm };
    expect(model.metadata).toEqual({});
    expect(model.layout.config).toEqual(expected);
    expect(model.warnings).toEqual([]);
    if (cell === 'const') expect(new TensorViews(model.layout, model.params).get('s_const')[0]).toBe(Math.fround(0.3));
  });

  it('gives the module\'s output on the fixed input', () => {
    const { tensors } = readNamedTensors(readFileSync(join(FIXTURES, `${name}.forward.safetensors`)));
    const x = tensors.get('x')!;
    const y = tensors.get('y')!;
    const [batch, steps] = y.shape as [number, number];
    const { yHat } = referenceForward(model.layout, model.params, { x: x.data, batch, steps });
    yHat.forEach((got, i) => {
      const want = y.data[i]!;
      const tolerance = TOLERANCE.abs + TOLERANCE.rel * Math.abs(want);
      expect(Math.abs(got - want), `y[${Math.floor(i / steps)}, ${i % steps}]: expected ${want}, got ${got}, tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
    });
  });
});
