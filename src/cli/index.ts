// The `lwin` command line: one subcommand per stage, each in its own module.
import { Command } from 'commander';
import { LWIN_VERSION } from '../io/safetensors.ts';
import { registerDoctor } from './doctor.ts';
import { registerStatsCommands } from '../stats/cli.ts';
import { registerTrain } from './train.ts';
import { registerRun } from './run.ts';
import { registerDiagnose } from './diagnose.ts';
import { registerSweep } from './sweep.ts';
import { registerProfile } from './profile.ts';
import { registerReport } from '../report/index.ts';

const program = new Command()
  .name('lwin')
  .description('Measure how far back in time a gated recurrent network can learn (WebGPU).')
  .version(LWIN_VERSION)
  .showHelpAfterError();

registerDoctor(program);
registerRun(program);
registerDiagnose(program);
registerProfile(program);
registerTrain(program);
registerStatsCommands(program);
registerSweep(program);
registerReport(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`lwin: ${(error as Error).message}`);
  process.exitCode = 1;
}
