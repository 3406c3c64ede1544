// The file sink: curves every epoch, the gate statistics' file only when its rows change.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSink } from '../../src/train/sink.ts';
import { cellFileNames } from '../../src/io/study-files.ts';
import type { CurveRow, GateRow } from '../../src/train/curves.ts';

describe('fileSink', () => {
  it('rewrites the learning curve every epoch and the gate statistics only when they gain rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwin-sink-'));
    try {
      const sink = fileSink(dir);
      const names = cellFileNames('gru');
      const row = (epoch: number): CurveRow => ({ epoch, train_loss: 1 / epoch, train_acc: 0.5, val_loss: 1, val_acc: 0.4 });
      const gates: GateRow[] = [{ epoch: 0, metric: 'z_mean', value: 0.5 }];
      await sink.curves('gru', [row(1)], gates);
      const gateFile = join(dir, names.gateStats);
      expect(await readFile(gateFile, 'utf8')).toContain('z_mean');
      await writeFile(gateFile, 'untouched'); // a second epoch with the same rows leaves the file alone
      await sink.curves('gru', [row(1), row(2)], gates);
      expect(await readFile(gateFile, 'utf8')).toBe('untouched');
      expect((await readFile(join(dir, names.learningCurve), 'utf8')).trim().split('\n')).toHaveLength(3);
      await sink.curves('gru', [row(1), row(2), row(3)], [...gates, { epoch: 2, metric: 'z_mean', value: 0.6 }]);
      expect((await readFile(gateFile, 'utf8')).trim().split('\n')).toHaveLength(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
