// Where a training run keeps its curves and checkpoints. Node writes files under an output folder; other
// runtimes (the browser page) can keep them in memory with the same interface.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParamLayout } from '../model/params.ts';
import { CURVE_COLUMNS, GATE_COLUMNS, writeCsv, type CurveRow, type GateRow } from './curves.ts';
import { loadCheckpoint, saveCheckpoint, type Checkpoint, type Warn } from './checkpoint.ts';
import { cellFileNames } from '../io/study-files.ts';

export interface TrainSink {
  /** Called after every epoch with the whole curves so far. */
  curves(cell: string, curve: readonly CurveRow[], gates: readonly GateRow[]): Promise<void>;
  saveCheckpoint(layout: ParamLayout, checkpoint: Checkpoint): Promise<void>;
  loadCheckpoint(layout: ParamLayout): Promise<Checkpoint | undefined>;
  /** Where the checkpoints are kept, for messages (`lwin-out/x/checkpoints`). */
  where?: string;
}

/** Files under `dir`: `<cell>_learning_curve.csv`, `gate_stats_<cell>.csv`, `checkpoints/`. */
export function fileSink(dir: string, warn?: Warn): TrainSink {
  // Gate rows come every gateLogEvery epochs; their file is rewritten (atomically, synced) only when they change.
  const gatesWritten = new Map<string, number>();
  return {
    where: join(dir, 'checkpoints'),
    async curves(cell, curve, gates) {
      await mkdir(dir, { recursive: true });
      const names = cellFileNames(cell);
      await writeCsv(join(dir, names.learningCurve), CURVE_COLUMNS, curve);
      if (gatesWritten.get(cell) === gates.length) return;
      await writeCsv(join(dir, names.gateStats), GATE_COLUMNS, gates);
      gatesWritten.set(cell, gates.length);
    },
    async saveCheckpoint(layout, checkpoint) {
      await saveCheckpoint(dir, layout, checkpoint);
    },
    loadCheckpoint: (layout) => loadCheckpoint(dir, layout, warn),
  };
}

/** Keeps everything in memory (tests, browsers). */
export function memorySink(): TrainSink & { saved: Checkpoint[]; last: { curve: CurveRow[]; gates: GateRow[] } } {
  const sink = {
    saved: [] as Checkpoint[],
    last: { curve: [] as CurveRow[], gates: [] as GateRow[] },
    async curves(_cell: string, curve: readonly CurveRow[], gates: readonly GateRow[]) {
      sink.last = { curve: [...curve], gates: [...gates] };
    },
    async saveCheckpoint(_layout: ParamLayout, checkpoint: Checkpoint) {
      sink.saved.push(structuredClone(checkpoint));
    },
    async loadCheckpoint() {
      const last = sink.saved.at(-1);
      return last ? structuredClone(last) : undefined;
    },
  };
  return sink;
}
