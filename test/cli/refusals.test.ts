// Command-line refusals and the diagnose path for a bare PyTorch state_dict: the helpers behind the flags in
// process, then the commands themselves (bin/lwin.js) where the wiring is what is being tested.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { readJsonObject } from '../../src/cli/json-config.ts';
import { taskFromFlags } from '../../src/cli/train.ts';
import { checkDataFitsModel, modelHints } from '../../src/cli/diagnose.ts';
import { writeNpy } from '../../src/io/npy.ts';
import { PAPER_TASK } from '../../src/data/task.ts';
import type { SequenceData } from '../../src/data/dataset.ts';

const dir = mkdtempSync(join(tmpdir(), 'lwin-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, contents: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
};
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'reference');

/** Runs `lwin ...args`; resolves with the exit code and what it printed. */
async function lwin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/lwin.js', ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('--config files', () => {
  it.each([
    ['an array', '[1, 2]', /^the study config .*array.json holds an array; expected a JSON object of settings, e.g. \{"epochs": 8/],
    ['a number', '3', /holds a number; expected a JSON object/],
    ['invalid JSON', '{"epochs": 3,', /^the study config .*invalid JSON.json is not valid JSON: .*; fix the file/],
  ])('refuses %s, naming the file', async (name, text, message) => {
    await expect(readJsonObject(file(`${name}.json`, text), 'the study config', '{"epochs": 8}')).rejects.toThrow(message);
  });

  it('names a file it cannot read', async () => {
    await expect(readJsonObject(join(dir, 'absent.json'), 'the training config', '{}')).rejects.toThrow(/^cannot read the training config .*absent.json: ENOENT/);
  });

  it('reads an object', async () => {
    expect(await readJsonObject(file('ok.json', '{"epochs": 3}'), 'the study config', '{}')).toEqual({ epochs: 3 });
  });
});

describe('lwin train: the task from --steps, --task-lags, --task-coeffs', () => {
  it.each<[string, Parameters<typeof taskFromFlags>[0], RegExp]>([
    ['--steps 32 with the paper lags', { steps: 32 }, /^the paper task's lags 32,64,128,192,256 must lie below the sequence length 32 \(--steps\), but 32,64,128,192,256 do not: give --steps above 256, or lags below 32 with --task-lags \(and one coefficient each with --task-coeffs\)$/],
    ['--task-lags reaching --steps', { steps: 16, taskLags: [4, 16], taskCoeffs: [1, 1] }, /^--task-lags 4,16 must lie below the sequence length 16 \(--steps\), but 16 does not/],
    ['--task-lags without coefficients', { steps: 32, taskLags: [4, 8] }, /^--task-lags 4,8 need one coefficient each, but none was given: add --task-coeffs with 2 values$/],
    ['--task-coeffs of another length', { taskLags: [4, 8], taskCoeffs: [1] }, /--task-coeffs gives 1: add --task-coeffs with 2 values/],
  ])('refuses %s, naming the flags', (_, flags, message) => {
    expect(() => taskFromFlags(flags)).toThrow(message);
  });

  it('takes the paper task and overrides what the flags give', () => {
    expect(taskFromFlags({})).toEqual({ ...PAPER_TASK });
    expect(taskFromFlags({ steps: 32, taskLags: [4, 8], taskCoeffs: [0.5, 0.25] })).toEqual({ ...PAPER_TASK, steps: 32, lags: [4, 8], coeffs: [0.5, 0.25] });
  });
});

describe('lwin diagnose: the model from the file, the flags as hints', () => {
  it('passes only the flags given (commander\'s layernorm default true says nothing)', () => {
    expect(modelHints({ layernorm: true })).toEqual({ cell: undefined, inputSize: undefined, hiddenSize: undefined, layernorm: undefined });
    expect(modelHints({ cells: ['gru'], inputSize: 3, hidden: 4, layernorm: false })).toEqual({ cell: 'gru', inputSize: 3, hiddenSize: 4, layernorm: false });
    expect(() => modelHints({ cells: ['gru', 'lstm'] })).toThrow(/^lwin diagnose reads one model: give one cell to --cells \(got gru,lstm\)/);
  });

  it('refuses diagnostic data whose D is not the model\'s', () => {
    const data = { inputSize: 5, source: 'x.npy + y.npy' } as SequenceData;
    expect(() => checkDataFitsModel(data, { cell: 'gru', inputSize: 3, hiddenSize: 4, layernorm: true }, 'w.safetensors')).toThrow(
      'the diagnostic data x.npy + y.npy have D=5 features per step, but the model in w.safetensors takes D=3 (its first weight is [H, D] = [4, 3]): give data with 3 features',
    );
  });

  const SMALL = ['--steps', '24', '--task-lags', '2,4', '--task-coeffs', '0.5,0.4', '--diag-sequences', '8', '--lag-min', '1', '--lag-max', '12', '--num-lags', '6', '--psi-subsample', '100', '--transport-samples', '2'];

  it('diagnoses a state_dict saved from the reference GRU module, with no metadata and no model flags', async () => {
    const out = join(dir, 'diagnose-gru');
    const result = await lwin('diagnose', '--weights', join(FIXTURES, 'gru_lnon.safetensors'), ...SMALL, '--out', out);
    expect(result.stderr).not.toMatch(/^lwin: (?!no --optimizer-state)/m);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/diagnosed gru \(H=4\)/);
    const study = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8'));
    expect([study.config.cells, study.config.task.inputSize, study.config.model.hidden, study.config.model.layernorm]).toEqual([['gru'], 3, 4, true]);
  }, 120_000);

  it.each<[string, string[], RegExp]>([
    ['a cell the file does not hold', ['--cells', 'lstm'], /^lwin: .*gru_lnon.safetensors has no Wi.weight, the first weight of the lstm cell, so it does not hold a lstm model; its tensors fit gru \(D=3, H=4, layernorm on\): check the cell you gave \(--cells\)$/m],
    ['a hidden size the file does not have', ['--hidden', '8'], /^lwin: cannot read .*gru_lnon.safetensors as a gru \(D=3, H=8, layernorm on\) model:\n {2}- wrong shape: Wz.weight is \[4,3\], expected \[8,3\]/m],
  ])('refuses %s before opening the GPU', async (_, flags, message) => {
    const result = await lwin('diagnose', '--weights', join(FIXTURES, 'gru_lnon.safetensors'), ...SMALL, ...flags);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  }, 60_000);

  it('refuses --x data with another D than the model\'s, and NaN weights', async () => {
    const x = file('x5.npy', writeNpy([4, 24, 5], new Float32Array(4 * 24 * 5)));
    const y = file('y5.npy', writeNpy([4, 24], new Float32Array(4 * 24)));
    const mismatch = await lwin('diagnose', '--weights', join(FIXTURES, 'gru_lnon.safetensors'), ...SMALL, '--x', x, '--y', y);
    expect(mismatch.stderr).toMatch(/^lwin: the diagnostic data .*x5.npy \+ .*y5.npy have D=5 features per step, but the model in .*gru_lnon.safetensors takes D=3/m);

    // The last F32 of the file is out.bias: make it NaN.
    const nan = join(dir, 'nan.safetensors');
    copyFileSync(join(FIXTURES, 'gru_lnon.safetensors'), nan);
    const bytes = readFileSync(nan);
    bytes.writeFloatLE(NaN, bytes.length - 4);
    writeFileSync(nan, bytes);
    const diverged = await lwin('diagnose', '--weights', nan, ...SMALL);
    expect(diverged.stderr).toMatch(/^lwin: .*nan.safetensors holds NaN or ±Infinity weights[\s\S]*out.bias holds 1 non-finite value; the first is NaN at out.bias\[0\]/m);
  }, 60_000);
});
