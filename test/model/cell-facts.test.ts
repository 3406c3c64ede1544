// The per-cell facts table (CELL_FACTS, src/model/cells.ts) against what the cells actually do: the float64 step's
// state and SPEC §4 terms, and the GPU forward kernel's intermediate planes, so a table entry that drifts from a
// cell fails here rather than as misread planes in the window scan or the gate statistics.
import { defaultTile } from '../../src/cells/tiles.ts';
import { describe, expect, it } from 'vitest';
import { CELL_FACTS, CELL_KINDS, INTERMEDIATE_COUNT, buildLayout, initParams, intermediatePlane, stateWidth } from '../../src/model/index.ts';
import { cellReference, prepareModel, zeroState } from '../../src/model/f64/index.ts';
import { forwardProgram } from '../../shaders/recurrence/forward.ts';

describe.each(CELL_KINDS.map((cell) => ({ cell })))('$cell', ({ cell }) => {
  const layout = buildLayout({ cell, inputSize: 2, hiddenSize: 3, layernorm: false });
  const model = prepareModel(layout, initParams(layout, { seed: 5 }));
  const record = cellReference(cell).step(model.p, Float64Array.of(0.5, -1), zeroState(model));

  it('state width counts the float64 step’s state vectors (h, plus c)', () => {
    expect(Object.keys(record.next).length).toBe(stateWidth(cell));
  });

  it('SPEC §4 terms are the float64 step’s, in plane order', () => {
    expect(Object.keys(cellReference(cell).intermediates(model.p, record)).sort()).toEqual([...CELL_FACTS[cell].intermediates].sort());
    CELL_FACTS[cell].intermediates.forEach((name, plane) => expect(intermediatePlane(cell, name)).toBe(plane));
  });

  it('the forward kernel writes one plane per term', () => {
    const shader = forwardProgram({ cell, layernorm: false, tile: defaultTile(3), intermediates: true }).source();
    expect(shader).toContain(`n < ${INTERMEDIATE_COUNT[cell]}u`);
  });
});

it('a term the cell lacks is an error naming the cell and its terms', () => {
  expect(() => intermediatePlane('lstm', 'rdiag')).toThrow('the lstm cell has no SPEC §4 term "rdiag"; its terms are f, e, cdiag');
});
