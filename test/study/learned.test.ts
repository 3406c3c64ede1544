// Learned against learnable (SPEC §12) on hand-built inputs whose answers follow from the definitions.
import { describe, expect, it } from 'vitest';
import { learnedVsLearnable } from '../../src/study/learned.ts';
import { learnedVerdict } from '../../src/report/tables.ts';
import type { CellStatistics } from '../../src/study/statistics.ts';

const stats = { lags: [{ ell: 2, nRequired: 50 }, { ell: 4, nRequired: 400 }, { ell: 8, nRequired: -1 }, { ell: 16, nRequired: 200 }] } as unknown as CellStatistics;

describe('learnedVsLearnable', () => {
  it('finds the first epoch with ĉ/c ≥ 1/2 (sign included) and the window at N = training sequences', () => {
    const recovery = [
      { epoch: 2, ell: 2, c_hat: 0.2 }, { epoch: 4, ell: 2, c_hat: 0.31 }, { epoch: 6, ell: 2, c_hat: 0.5 },
      { epoch: 2, ell: 4, c_hat: 0.3 }, { epoch: 4, ell: 4, c_hat: 0.1 },
      { epoch: 2, ell: 8, c_hat: 0.1 }, { epoch: 4, ell: 8, c_hat: -0.3 },
    ];
    const rows = learnedVsLearnable([2, 4, 8, 32], [0.6, 0.5, -0.4, 0.2], stats, 300, recovery);
    // N = 300: lags with 0 < N_required ≤ 300 are 2 and 16, so Ĥ = 16.
    expect(rows.map((r) => r.windowAtN)).toEqual([16, 16, 16, 16]);
    expect(rows.map((r) => r.insideWindow)).toEqual([true, true, true, false]);
    expect(rows.map((r) => r.learnedAtEpoch)).toEqual([4, 2, 4, null]); // 0.31/0.6 > 1/2; -0.3/-0.4 = 0.75
    expect(rows.map((r) => r.finalCHat)).toEqual([0.5, 0.1, -0.3, null]);
    expect(rows.map(learnedVerdict)).toEqual(['consistent', 'consistent', 'consistent', 'consistent']);
  });

  it('names the two cases that stand out against the window', () => {
    expect(learnedVerdict({ insideWindow: false, learnedAtEpoch: 3 })).toBe('learned outside Ĥ_N');
    expect(learnedVerdict({ insideWindow: true, learnedAtEpoch: null })).toBe('inside Ĥ_N, not learned');
    expect(learnedVerdict({ insideWindow: false, learnedAtEpoch: null })).toBe('consistent');
  });

  it('has an empty window when nothing is detectable within N', () => {
    const rows = learnedVsLearnable([2], [0.6], stats, 10, []);
    expect(rows[0]).toMatchObject({ windowAtN: 0, insideWindow: false, learnedAtEpoch: null });
  });
});
