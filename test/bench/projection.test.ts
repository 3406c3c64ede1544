// The GPU kit's arithmetic: epoch times read back from progress lines, and the paper-study projection.
import { describe, expect, it } from 'vitest';
import { lineProgress } from '../../src/train/progress.ts';
import { abPaperFastest, abPaperMs, parseProgressLines, progressPhases, projectPaperStudy } from '../../bench/gpu/projection.ts';
import type { AbResult } from '../../bench/ab.ts';
import { describePhases } from '../../src/train/trainer.ts';
import type { CellBenchResult } from '../../bench/cells.ts';
import type { DiagnosticsBenchResult } from '../../bench/diagnostics.ts';

describe('progress lines', () => {
  it('lineProgress writes lines that parseProgressLines turns back into epoch times', async () => {
    const lines: string[] = [];
    const progress = lineProgress('epochs', (l) => lines.push(l));
    progress.start(3, 0, 'gru');
    await new Promise((r) => setTimeout(r, 30));
    progress.update(1, { loss: '0.5' });
    await new Promise((r) => setTimeout(r, 60));
    progress.update(2, { loss: '0.4', phases: describePhases({ batches: 1.234, evaluation: 0.3, epochEnd: 0.001, checkpoints: 0 }) });
    progress.stop();
    expect(lines[0]).toBe('lwin progress: gru 0/3 epochs, started');
    expect(lines[1]).toMatch(/^lwin progress: gru 1\/3 epochs, loss 0\.5, [\d.]+ epochs\/s, ETA \d+ s, elapsed [\d.]+ s$/);
    // the phases above 5 ms, in the line and read back
    expect(lines[2]).toMatch(/^lwin progress: gru 2\/3 epochs, loss 0\.4 \(batches 1\.23 s, evaluation 0\.30 s\), [\d.]+ epochs\/s, ETA \d+ s, elapsed [\d.]+ s$/);
    expect(progressPhases(lines.join('\n'))).toEqual(['', 'batches 1.23 s, evaluation 0.30 s']);
    const seconds = parseProgressLines(lines.join('\n'));
    expect(seconds).toHaveLength(2);
    expect(seconds[0]).toBeGreaterThanOrEqual(0.025);
    expect(seconds[1]).toBeGreaterThanOrEqual(0.05);
  });

  it('takes elapsed differences, restarts at a new start line and ignores other output', () => {
    const text = [
      'lwin run (paper) on some adapter',
      'lwin progress: gru 0/3 epochs, started',
      'lwin progress: gru 1/3 epochs, loss 1.0, 0.10 epochs/s, ETA 20 s, elapsed 10.00 s',
      'warning: something',
      'lwin progress: gru 2/3 epochs, loss 0.9, 0.12 epochs/s, ETA 8 s, elapsed 16.50 s',
      'lwin progress: lstm 0/1 epochs, started',
      'lwin progress: lstm 1/1 epochs, loss 0.9, 0.5 epochs/s, ETA 0 s, elapsed 2.00 s',
    ].join('\n');
    expect(parseProgressLines(text)).toEqual([10, 6.5, 2]);
  });
});

const cell = (name: string, size: CellBenchResult['size'], wallMs: number): CellBenchResult => {
  const rate = (size.batch * size.steps) / (wallMs / 1000);
  const perSequenceStep = wallMs / 1000 / (size.batch * size.steps);
  return {
    cell: name as CellBenchResult['cell'], size, wallMsPerBatch: wallMs, gpuMsPerBatch: wallMs, sequenceStepsPerSecond: rate, overhead: 0,
    phasesMs: { forward: 0, backward: 0, optimizer: 0 }, peakBytes: 0, tile: 'r1k1hp64wg256',
    projectedPaperTrainingSeconds: perSequenceStep * (128 / size.hidden) ** 2 * 750 * 8000 * 1024, profile: { source: 'wall-clock', adapter: 'x', totalMs: 0, kernels: [] },
  };
};
const diag = (name: string, seconds: number) => ({ cell: name, projectedPaperDiagnosticsSeconds: seconds }) as DiagnosticsBenchResult;
const PAPER = { batch: 512, steps: 1024, hidden: 128, input: 16 };
const CELLS = ['const', 'shared', 'diag', 'gru', 'lstm'];

describe('paper-study projection', () => {
  it('is 750 epochs of 8000/512 batches plus diagnostics per cell, calibrated by the measured epoch', () => {
    // 100 ms per paper batch → 8000/512 × 0.1 = 1.5625 s per epoch of batches.
    const cellsPaper = CELLS.map((c) => cell(c, PAPER, 100));
    const p = projectPaperStudy({ cellsPaper, cellsBench: [], diagnostics: CELLS.map((c) => diag(c, 60)), epochSeconds: [9, 3.125], calibrate: true });
    expect(p.calibration).toBeCloseTo(2, 12); // the last epoch, 3.125 s, over 1.5625 s
    for (const c of p.cells) {
      expect(c.epochSeconds).toBeCloseTo(3.125, 10);
      expect(c.totalSeconds).toBeCloseTo(750 * 3.125 + 60, 8);
      expect(c.complete).toBe(true);
    }
    expect(p.totalSeconds).toBeCloseTo(5 * (750 * 3.125 + 60), 6);
  });

  it('scales from the bench size where a paper-size figure is missing, and says so', () => {
    // H = 64, B·T = 64·256: per sequence-step cost × (128/64)² × 8000 × 1024 per epoch.
    const small = { batch: 64, steps: 256, hidden: 64, input: 16 };
    const p = projectPaperStudy({ cellsPaper: [], cellsBench: CELLS.map((c) => cell(c, small, 10)), diagnostics: [], epochSeconds: [], calibrate: true });
    const expected = ((10 / 1000) / (64 * 256)) * 4 * 8000 * 1024;
    expect(p.cells[0]!.epochSeconds).toBeCloseTo(expected, 10);
    expect(p.calibration).toBe(1);
    expect(p.note).toMatch(/No measured paper-size epoch/);
    expect(p.note).toMatch(/Scaled from the bench size.*const, shared, diag, gru, lstm/);
    expect(p.note).toMatch(/Incomplete/);
    expect(p.cells.every((c) => !c.complete && c.totalSeconds === c.trainingSeconds)).toBe(true);
  });

  it('takes a cell\'s batch from the interleaved A/B\'s defaults at the paper size where it ran, over the cells bench', () => {
    // gru: the bench says 100 ms, the A/B's defaults 40, 42 and 41 ms (median 41); a variant's rounds do not count
    const ab: AbResult[] = [
      { cell: 'gru', size: PAPER, rounds: 3, variants: [{ env: '', tile: 't', gpuMs: [40, 42, 41], partsMs: { forward: [], backward: [], weights: [] } }, { env: 'A=1', tile: 't', gpuMs: [1, 1, 1], partsMs: { forward: [], backward: [], weights: [] } }] },
      // another size: not the paper's, so const keeps the bench's figure
      { cell: 'const', size: { ...PAPER, batch: 64 }, rounds: 1, variants: [{ env: '', tile: 't', gpuMs: [5], partsMs: { forward: [], backward: [], weights: [] } }] },
    ];
    expect(abPaperMs(ab, 'gru')).toBe(41);
    expect(abPaperMs(ab, 'const')).toBeUndefined();
    const cellsPaper = CELLS.map((c) => cell(c, PAPER, 100));
    // the gru epoch measured 1.28125 s: twice its 8000/512 × 41 ms
    const p = projectPaperStudy({ cellsPaper, cellsBench: [], diagnostics: [], epochSeconds: [1.28125], calibrate: true, ab });
    expect(p.calibration).toBeCloseTo(2, 12);
    expect(p.cells.find((c) => c.cell === 'gru')!.epochSeconds).toBeCloseTo(1.28125, 10);
    expect(p.cells.find((c) => c.cell === 'const')!.epochSeconds).toBeCloseTo(2 * 1.5625, 10);
    expect(p.note).toMatch(/Batch times of gru: the interleaved A\/B's median GPU ms/);
  });

  it('with `fastest`, takes each cell\'s fastest A/B variant, still calibrated by the defaults the paper run ran', () => {
    const parts = { forward: [], backward: [], weights: [] };
    const ab: AbResult[] = [
      { cell: 'gru', size: PAPER, rounds: 3, variants: [{ env: '', tile: 't', gpuMs: [40, 42, 41], partsMs: parts }, { env: 'LWIN_PARTIALS=4', tile: 's', gpuMs: [20, 21, 19], partsMs: parts }] },
      { cell: 'lstm', size: PAPER, rounds: 1, variants: [{ env: '', tile: 't', gpuMs: [50], partsMs: parts }, { env: 'A=1', tile: 't', gpuMs: [60], partsMs: parts }] },
    ];
    expect(abPaperFastest(ab, 'gru')).toEqual({ env: 'LWIN_PARTIALS=4', ms: 20 });
    expect(abPaperFastest(ab, 'lstm')).toEqual({ env: '', ms: 50 });
    expect(abPaperFastest(ab, 'const')).toBeUndefined();
    const inputs = { cellsPaper: CELLS.map((c) => cell(c, PAPER, 100)), cellsBench: [], diagnostics: [], epochSeconds: [1.28125], calibrate: true, ab };
    const p = projectPaperStudy({ ...inputs, fastest: true });
    // the gru epoch measured 1.28125 s is twice its defaults' 8000/512 × 41 ms; the fastest variant's 20 ms × 2
    expect(p.calibration).toBeCloseTo(2, 12);
    expect(p.cells.find((c) => c.cell === 'gru')!.epochSeconds).toBeCloseTo(2 * 15.625 * 0.02, 10);
    expect(p.cells.find((c) => c.cell === 'lstm')!.epochSeconds).toBeCloseTo(2 * 15.625 * 0.05, 10);
    expect(p.note).toMatch(/each cell's fastest variant of the interleaved A\/B \(gru: LWIN_PARTIALS=4; lstm: defaults\)/);
    expect(projectPaperStudy(inputs).cells.find((c) => c.cell === 'gru')!.epochSeconds).toBeCloseTo(1.28125, 10);
  });

  it('does not calibrate a tiny run', () => {
    const p = projectPaperStudy({ cellsPaper: CELLS.map((c) => cell(c, PAPER, 100)), cellsBench: [], diagnostics: [], epochSeconds: [50], calibrate: false });
    expect(p.calibration).toBe(1);
  });
});
