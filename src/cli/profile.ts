// `lwin profile`: the per-kernel GPU time of a short run (one training epoch and the diagnostics of one cell at the
// chosen study settings, reduced in size), as a table or JSON.
import type { Command } from 'commander';
import { acquireDevice, GpuContext, formatProfile } from '../gpu/index.ts';
import type { CellKind } from '../model/cells.ts';
import { train } from '../train/trainer.ts';
import { memorySink } from '../train/sink.ts';
import { runModelDiagnostics } from '../diagnostics/stack-stage.ts';
import { diagnosticsOptions, studyData, trainConfigFor } from '../study/run.ts';
import { addStudyOptions, studyFromFlags, type RunFlags } from './run.ts';
import { deviceOptionsFrom } from './device-options.ts';
import { nodeTileCache } from '../io/node-storage.ts';

export function registerProfile(program: Command): void {
  const command = program
    .command('profile')
    .description('kernel time table of a short run: one epoch of training and one diagnostic pass of the first selected cell')
    .option('--json', 'print the profile as JSON');
  addStudyOptions(command).action(async (flags: RunFlags & { json?: boolean }) => {
    const study = await studyFromFlags(flags);
    const config = { ...study, epochs: 1, trainSequences: Math.min(study.trainSequences, 2 * study.batch), diagSequences: Math.min(study.diagSequences, 32), transportSamples: 0 };
    const cell = config.cells[0] as CellKind;
    const data = studyData(config);
    const acquired = await acquireDevice(deviceOptionsFrom(flags));
    try {
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: 'every-step', tileCache: nodeTileCache() });
      const trained = await train(ctx, trainConfigFor(config, cell), data.training, { sink: memorySink() });
      const preconditioner = config.rho ? await trained.optimizer.preconditioner() : undefined;
      trained.optimizer.destroy();
      await runModelDiagnostics(ctx, trained.layout, trained.params, data.diagnostic, diagnosticsOptions(config, preconditioner));
      const report = ctx.profiler!.report();
      console.log(flags.json ? JSON.stringify(report, null, 2) : `${cell}: 1 epoch on ${config.trainSequences} sequences, diagnostics on ${config.diagSequences}\n${formatProfile(report)}`);
    } finally {
      acquired.release();
    }
  });
}
