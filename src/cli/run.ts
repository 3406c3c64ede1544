// `lwin run`: the whole study (train → diagnose → statistics → outputs) for the selected cells.
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { acquireDevice, GpuContext } from '../gpu/index.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import { resolveStudy, type PresetName, type StudyConfig } from '../study/config.ts';
import { runStudy } from '../study/run.ts';
import { progressOn } from '../study/pipeline.ts';
import { terminalProgress } from '../train/progress.ts';
import { readJsonObject } from './json-config.ts';
import { addDeviceOptions, deviceOptionsFrom, type DeviceFlags } from './device-options.ts';
import { claimOutputFolder, newOutputFolder } from './output-folder.ts';
import { writingTo } from '../io/output-path.ts';
import { STUDY_FILES } from '../io/study-files.ts';
import { checkSameSettings } from '../study/resume.ts';
import { nodeTileCache } from '../io/node-storage.ts';

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`'${v}' is not a number`);
  return n;
};
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const numbers = (v: string) => list(v).map(num);

export interface RunFlags extends DeviceFlags {
  preset: PresetName;
  config?: string;
  out?: string;
  resume?: boolean;
  force?: boolean;
  [key: string]: unknown;
}

/** Flags that map onto study fields (dotted paths); every SPEC knob has one. */
const FIELD_FLAGS: [flag: string, description: string, path: string, parse?: (v: string) => unknown][] = [
  ['--cells <list>', 'cells, comma-separated, from const,shared,diag,gru,lstm,linear and the PyTorch layers rnn,rnn_relu,torch_gru,torch_lstm (SPEC §13) (default: the five gated cells)', 'cells', list],
  ['--steps <T>', 'task sequence length', 'task.steps', num],
  ['--input-size <D>', 'task input features', 'task.inputSize', num],
  ['--task-lags <list>', 'task lags ℓ_k', 'task.lags', numbers],
  ['--task-coeffs <list>', 'task coefficients c_k', 'task.coeffs', numbers],
  ['--noise-std <s>', 'task noise', 'task.noiseStd', num],
  ['--task-seed <n>', 'task seed (u and every data stream)', 'task.seed', num],
  ['--x <file.npy>', 'your training inputs X [N,T,D] instead of the task', 'data.x'],
  ['--y <file.npy>', 'your training targets Y [N,T] (floats; class indices for ce may be integers)', 'data.y'],
  ['--diag-x <file.npy>', 'your diagnostic inputs (default: the training data)', 'data.diagX'],
  ['--diag-y <file.npy>', 'your diagnostic targets', 'data.diagY'],
  ['--train-sequences <n>', 'N_train', 'trainSequences', num],
  ['--diag-sequences <n>', 'N_diag', 'diagSequences', num],
  ['--hidden <H>', 'hidden units', 'model.hidden', num],
  ['--outputs <K>', 'readout rows K (SPEC §13): outputs for mse, classes for ce (default 1; needs --x/--y when not 1)', 'model.outputs', num],
  ['--layers <L>', 'stacked layers of PyTorch\'s cells rnn, rnn_relu, torch_gru, torch_lstm (SPEC §13; default 1; lwin\'s own cells stay single)', 'model.layers', num],
  ['--loss <name>', 'mse, or ce with class indices in --y (SPEC §13; default mse)', 'model.loss'],
  ['--loss-steps <which>', 'all, or last: the loss at the last step only (sequence classification; default all)', 'model.lossSteps'],
  ['--const-s <s>', 'ConstGate gate and initial gate of shared/diag', 'model.constS', num],
  ['--init-scale <a>', 'multiply every initial weight by a (SPEC §12; small for the linear cell\'s analysis)', 'model.initScale', num],
  ['--optimizer <name>', 'sgd, sgd_momentum, adamw, rmsprop', 'optimizer.name'],
  ['--lr <rate>', 'learning rate', 'optimizer.lr', num],
  ['--weight-decay <wd>', 'weight decay', 'optimizer.weightDecay', num],
  ['--clip <norm>', 'global gradient-norm clip', 'optimizer.clip', num],
  ['--epochs <n>', 'epochs', 'epochs', num],
  ['--batch <n>', 'mini-batch size', 'batch', num],
  ['--seed <n>', 'model, shuffling and sampling seed', 'seed', num],
  ['--w-seed <n>', 'seed of the ψ direction w', 'wSeed', num],
  ['--lag-min <n>', 'diagnostic lag grid: first lag', 'lagGrid.min', num],
  ['--lag-max <n>', 'diagnostic lag grid: last lag', 'lagGrid.max', num],
  ['--num-lags <n>', 'diagnostic lag grid: number of lags', 'lagGrid.num', num],
  ['--budgets <list>', 'budget grid N', 'budgets', numbers],
  ['--eps <ε>', 'detectability threshold', 'eps', num],
  ['--alpha-method <m>', 'mcculloch, ecf or koutrouvelis', 'alphaMethod'],
  ['--transport-samples <n>', 'exact-transport (sequence, t) pairs', 'transportSamples', num],
  ['--psi-subsample <n>', 'ψ samples kept per lag', 'psiSubsample', num],
  ['--diag-batch <n>', 'sequences per diagnostic batch (default: from the memory budget)', 'diagBatch', num],
  ['--diag-memory <bytes>', 'GPU memory budget of the diagnostic stage', 'diagMemoryBudget', num],
  ['--checkpoint-every <n>', 'epochs between checkpoints', 'checkpointEvery', num],
  ['--gate-log-every <n>', 'epochs between gate statistics', 'gateLogEvery', num],
  ['--bptt-checkpoint <k>', 'keep every k-th state in BPTT', 'bpttCheckpoint', num],
  ['--track-every <K>', 'record the envelope trajectory every K epochs into <cell>/<cell>_trajectory.csv', 'trackEvery', num],
];

const SWITCHES: [flag: string, description: string, path: string][] = [
  ['--no-layernorm', 'no LayerNorm on the gated cells (the linear cell and the PyTorch layers never have one)', 'model.layernorm'],
  ['--no-orthogonal', 'PyTorch default init instead of orthogonal', 'model.orthogonal'],
  ['--no-first-order', 'μ = μ0 only', 'firstOrder'],
  ['--no-rho', 'skip the adaptive base rates ρ', 'rho'],
];

function flagKey(flag: string): string {
  const name = flag.split(' ')[0]!.replace(/^--(no-)?/, '');
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys.at(-1)!] = value;
}

export function studyOverrides(flags: Record<string, unknown>, fromFile: Record<string, unknown>): Record<string, unknown> {
  const overrides = structuredClone(fromFile);
  for (const [flag, , path] of FIELD_FLAGS) {
    const value = flags[flagKey(flag)];
    if (value !== undefined) setPath(overrides, path, value);
  }
  for (const [flag, , path] of SWITCHES) if (flags[flagKey(flag)] === false) setPath(overrides, path, false);
  return overrides;
}

/** `--force`, for every command that refuses a non-empty --out. */
export const FORCE_OPTION = ['--force', 'write into an --out that already holds outputs: lwin\'s outputs there are deleted first (other files stay)'] as const;

/** The study settings every study command takes: preset, JSON config, one flag per SPEC knob, device choice. */
export function addStudyOptions(command: Command): Command {
  command
    .addOption(new Option('--preset <name>', 'starting point for every setting').choices(['quick', 'paper']).default('quick'))
    .option('--config <file.json>', 'study settings as JSON (the fields of study.json\'s config); flags override it')
    .option('--out <dir>', 'output folder (default: a new timestamped folder under lwin-out/)');
  for (const [flag, description, , parse] of FIELD_FLAGS) command.option(flag, description, parse as never);
  for (const [flag, description] of SWITCHES) command.option(flag, description);
  return addDeviceOptions(command);
}

/** The resolved study configuration of a command's flags; refuses unknown or contradictory settings. */
export async function studyFromFlags(flags: RunFlags): Promise<StudyConfig> {
  const fromFile = flags.config ? await readJsonObject(flags.config, 'the study config', '{"epochs": 8, "model": {"hidden": 32}}') : {};
  return resolveStudy(flags.preset, studyOverrides(flags, fromFile), flags.config ?? 'the study configuration');
}

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description('train the selected cells, run the diagnostics and statistics, and write every output (default preset: quick)')
    .option('--resume', 'continue the study in --out (same settings, checked): finished cells are kept, a half-trained cell resumes from its checkpoint')
    .option(...FORCE_OPTION)
    .option('--no-report', 'skip report.html at the end');
  addStudyOptions(command).action(async (flags: RunFlags) => {
    const config = await studyFromFlags(flags);
    if (flags.resume && !flags.out) throw new Error('--resume needs --out: the folder of the study to continue');
    const out = flags.out ?? newOutputFolder('run');
    await claimOutputFolder(out, {
      command: 'run', given: flags.out !== undefined, resume: flags.resume, force: flags.force, resumes: ['study', 'unfinished-study'],
      inputs: [flags.config, config.data?.x, config.data?.y, config.data?.diagX, config.data?.diagY], log: (line) => console.log(`lwin: ${line}`),
    });
    if (flags.resume) await checkSameSettings(out, config);
    const acquired = await acquireDevice(deviceOptionsFrom(flags));
    const started = performance.now();
    try {
      const ctx = new GpuContext(acquired.device, { adapter: acquired.adapter, profile: true, tileCache: nodeTileCache() });
      console.log(`lwin run (${flags.preset}) on ${acquired.adapter.name}: ${config.cells.join(', ')} → ${out}`);
      await writingTo(out, () => runStudy(ctx, config, out, {
        resume: flags.resume, adapter: acquired.adapter, progress: progressOn(terminalProgress, (line) => console.log(`  ${line}`)),
        report: flags.report !== false,
      }));
      console.log(`finished in ${((performance.now() - started) / 1000).toFixed(0)} s; summary: ${join(out, STUDY_FILES.windowSummary)}`);
    } catch (error) {
      if (error instanceof DeviceLostError) throw new Error(`${error.message} Continue with: lwin run --resume --out ${out}`);
      throw error;
    } finally {
      acquired.release();
    }
  });
}
