// The one study pipeline over two storages: in memory (the browser page's) it writes the same files, byte for byte,
// as `lwin run` writes on disk; it tells its progress as events in order, keeps finished cells on resume and refuses
// to resume with other settings, all through the storage.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { runStudy, studyData } from '../../src/study/run.ts';
import { progressOn, runStudyPipeline, type StudyEvent } from '../../src/study/pipeline.ts';
import { memoryStorage, readText } from '../../src/io/storage.ts';
import type { Progress } from '../../src/train/progress.ts';

const gpu = useGpu();

const TINY = {
  cells: ['const', 'gru'],
  task: { steps: 32, inputSize: 3, lags: [2, 4, 8], coeffs: [0.6, 0.5, 0.4], noiseStd: 0.3, seed: 5 },
  trainSequences: 64, diagSequences: 24, model: { hidden: 8 }, epochs: 2, batch: 32,
  lagGrid: { min: 1, max: 16, num: 8 }, transportSamples: 2, psiSubsample: 600,
};

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** The events without the epoch's loss values (numbers checked elsewhere) and without the cell records. */
function outline(events: StudyEvent[]): string[] {
  return events.map((e) => {
    if (e.kind === 'log') return `log ${e.line}`;
    if (e.kind === 'stage') return `${e.cell} ${e.stage}`;
    if (e.kind === 'training') return `${e.cell} ${e.phase} ${e.epoch}/${e.total}`;
    return `${e.record.cell} finished${e.kept ? ' earlier, kept' : ''}`;
  });
}

describe('the study pipeline', () => {
  it('writes in memory the files `lwin run` writes on disk, byte for byte, telling each stage in order', async () => {
    const config = resolveStudy('quick', TINY);
    const out = await mkdtemp(join(tmpdir(), 'lwin-pipeline-'));
    try {
      await runStudy(gpu.ctx, config, out, { report: false });
      const storage = memoryStorage();
      const events: StudyEvent[] = [];
      const records = await runStudyPipeline(gpu.ctx, config, studyData(config), storage, 'mem', { progress: (e) => events.push(e) });
      expect(records.map((r) => r.cell)).toEqual(['const', 'gru']);

      // On disk besides: the checkpoints (the memory sink keeps them in memory).
      const onDisk = (await filesUnder(out)).filter((f) => !f.includes('checkpoints'));
      const inMemory = [...storage.files.keys()].map((p) => p.slice('mem/'.length)).sort();
      expect(inMemory).toEqual(onDisk);
      for (const file of onDisk) {
        // study.json and the cell records hold the stage timings; everything else is the same bytes.
        if (file === 'study.json' || file.endsWith('_cell.json')) continue;
        expect(Buffer.from(storage.files.get(`mem/${file}`)!).equals(await readFile(join(out, file))), file).toBe(true);
      }

      const perCell = (cell: string) => [
        `${cell} training`, `${cell} start 0/2`, `${cell} epoch 1/2`, `${cell} epoch 2/2`, `${cell} stop 2/2`,
        `${cell} diagnostics`, `${cell} statistics`, `log ${cell}: done`, `${cell} finished`,
      ];
      expect(outline(events)).toEqual([...perCell('const'), ...perCell('gru')]);
      const epoch = events.find((e) => e.kind === 'training' && e.phase === 'epoch');
      expect(epoch?.kind === 'training' && Number(epoch.values.loss)).toBeGreaterThan(0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('keeps a finished cell on resume, redoes an unfinished one, and refuses other settings, through the storage', async () => {
    const config = resolveStudy('quick', TINY);
    const storage = memoryStorage();
    const data = studyData(config);
    await runStudyPipeline(gpu.ctx, config, data, storage, 'mem');
    const summary = await readText(storage, 'mem/gru/gru_summary.csv');
    // Interrupted as if before gru's last write.
    storage.files.delete('mem/gru/gru_cell.json');
    storage.files.delete('mem/gru/gru_summary.csv');
    const events: StudyEvent[] = [];
    await runStudyPipeline(gpu.ctx, config, data, storage, 'mem', { resume: true, progress: (e) => events.push(e) });
    const cells = outline(events).filter((line) => line.includes('finished'));
    expect(cells).toEqual(['log const: finished earlier, kept', 'const finished earlier, kept', 'gru finished']);
    expect(await readText(storage, 'mem/gru/gru_summary.csv')).toBe(summary);

    const other = resolveStudy('quick', { ...TINY, epochs: 3 });
    const before = new Map(storage.files);
    await expect(runStudyPipeline(gpu.ctx, other, data, storage, 'mem', { resume: true })).rejects.toThrow(
      'mem holds a study with other settings (mem/study.json); nothing was run or overwritten. Settings that differ (folder → now):\n  epochs: 2 → 3\n',
    );
    expect(storage.files).toEqual(before);
  });
});

describe('progressOn', () => {
  it('draws each cell\'s training on a new bar and passes the log lines on', () => {
    const calls: string[] = [];
    const bar = (): Progress => {
      const id = calls.filter((c) => c.startsWith('new')).length;
      calls.push(`new ${id}`);
      return {
        start: (total, done, label) => calls.push(`${id} start ${label} ${done}/${total}`),
        update: (done, values) => calls.push(`${id} update ${done} ${values.loss}`),
        stop: () => calls.push(`${id} stop`),
      };
    };
    const progress = progressOn(bar, (line) => calls.push(`log ${line}`));
    const events: StudyEvent[] = [
      { kind: 'stage', cell: 'gru', stage: 'training' },
      { kind: 'training', cell: 'gru', phase: 'start', epoch: 1, total: 3, values: {} },
      { kind: 'training', cell: 'gru', phase: 'epoch', epoch: 2, total: 3, values: { loss: '0.5' } },
      { kind: 'training', cell: 'gru', phase: 'stop', epoch: 3, total: 3, values: {} },
      { kind: 'log', line: 'gru: done' },
      { kind: 'training', cell: 'lstm', phase: 'start', epoch: 0, total: 3, values: {} },
    ];
    events.forEach(progress);
    expect(calls).toEqual(['new 0', '0 start gru 1/3', '0 update 2 0.5', '0 stop', 'log gru: done', 'new 1', '1 start lstm 0/3']);
  });
});
