// The library API (src/index.ts, src/browser.ts, src/stats/index.ts): the calls validate as the CLI validates, run
// the same pipeline and stages, and the entries reach only what their runtime has. The installed-package checks
// (npm pack, Node, Deno, Chromium) are in package.test.ts.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { diagnose, diagnoseLayers, estimateAlpha, report, runStudy, stable, train, MultiLagTask } from '../../src/index.ts';
import { resolveStudy } from '../../src/study/config.ts';
import { runStudyPipeline } from '../../src/study/pipeline.ts';
import { taskStudyData } from '../../src/study/task-data.ts';
import { memoryStorage, readText } from '../../src/io/storage.ts';
import { sampleStable } from '../../src/stats/stable-random.ts';
import { Rng } from '../../src/util/random.ts';
import { entryImports } from './entry-imports.ts';

const gpu = useGpu();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const TINY = {
  cells: ['gru'],
  task: { steps: 24, inputSize: 3, lags: [2, 4], coeffs: [0.6, 0.5], noiseStd: 0.3, seed: 5 },
  trainSequences: 48, diagSequences: 16, model: { hidden: 8 }, epochs: 1, batch: 16,
  lagGrid: { min: 1, max: 12, num: 6 }, transportSamples: 0, psiSubsample: 600,
};

describe('runStudy and report', () => {
  it.each([
    { name: 'a negative epoch count', input: { epochs: -1 } },
    { name: 'an unknown cell', input: { cells: ['elman'] } },
    { name: 'a lag grid past the sequence', input: { lagGrid: { min: 1, max: 500, num: 4 } } },
  ])('refuses $name with the message `lwin run` gives', async ({ input }) => {
    const cli = (() => {
      try {
        resolveStudy('quick', input, 'runStudy: the study config');
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('resolveStudy accepted the input');
    })();
    await expect(runStudy(input, { device: gpu.ctx })).rejects.toThrow(cli);
  });

  it('runs the study pipeline on the given device into memory, and reports it as one HTML page', async () => {
    const events: string[] = [];
    const study = await runStudy(TINY, { device: gpu.acquired.device, onProgress: (e) => events.push(e.kind) });
    const config = resolveStudy('quick', TINY);
    const direct = await runStudyPipeline(gpu.ctx, config, taskStudyData(config), memoryStorage(), 'study');
    expect(study.config).toEqual(config);
    // Same seed, same numbers: the library's study is the pipeline's.
    expect(study.cells.map((c) => c.stats)).toEqual(direct.map((c) => c.stats));
    expect(events).toContain('cell');
    expect(await readText(study.storage, 'study/H_N_summary.csv')).toMatch(/^N,H_N_gru,/);
    const html = await report(study);
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).toContain('<svg');
    expect(html).not.toContain('<script');
  });
});

describe('train and diagnose', () => {
  const task = new MultiLagTask(TINY.task);

  it('refuses a bad training config with the schema message', async () => {
    await expect(train({ cell: 'gru', hidden: 0 }, task.trainingSet(16), { device: gpu.ctx })).rejects.toThrow(/train: the training config is not valid:\n {2}hidden:/);
  });

  it('trains a cell and diagnoses it from its safetensors bytes as from its parameters, per lag', async () => {
    const trained = await train({ cell: 'gru', hidden: 8, epochs: 1, batch: 16 }, task.trainingSet(32), { device: gpu.ctx });
    expect(trained.epochsRun).toBe(1);
    const data = task.diagnosticSet(8);
    const fromFile = await diagnose(trained.weights, data, { lags: [1, 3, 6], device: gpu.ctx });
    const fromParams = await diagnose(trained, data, { lags: [1, 3, 6], device: gpu.ctx });
    expect(fromFile.perLag.map((l) => l.ell)).toEqual([1, 3, 6]);
    expect(fromFile.perLag.every((l) => Number.isFinite(l.muL1Mean) && l.muL1Mean > 0)).toBe(true);
    expect(fromFile.perLag.map((l) => l.muL1Mean)).toEqual(fromParams.perLag.map((l) => l.muL1Mean));
  });

  it('trains a 2-layer torch_gru and diagnoses every layer (diagnoseLayers); diagnose refuses the stack, saying so', async () => {
    const trained = await train({ cell: 'torch_gru', hidden: 8, layernorm: false, layers: 2, epochs: 1, batch: 16 }, task.trainingSet(32), { device: gpu.ctx });
    expect(trained.layout.tensors.map((t) => t.name)).toContain('weight_hh_l1');
    const data = task.diagnosticSet(8);
    const [fromFile, fromParams] = [await diagnoseLayers(trained.weights, data, { lags: [1, 3], device: gpu.ctx }), await diagnoseLayers(trained, data, { lags: [1, 3], device: gpu.ctx })];
    expect(fromFile).toHaveLength(2);
    expect(fromFile.map((d) => d.perLag.map((l) => l.muL1Mean))).toEqual(fromParams.map((d) => d.perLag.map((l) => l.muL1Mean)));
    expect(fromFile[0]!.perLag[0]!.muL1Mean).not.toBe(fromFile[1]!.perLag[0]!.muL1Mean);
    await expect(diagnose(trained, data, { lags: [1], device: gpu.ctx })).rejects.toThrow(/a stack of 2 layers, diagnosed per layer \(SPEC §13\): call diagnoseLayers/);
  });

  it('refuses weights that are no safetensors file, naming them', async () => {
    await expect(diagnose(new Uint8Array(4), task.diagnosticSet(4), { lags: [1], device: gpu.ctx })).rejects.toThrow(/diagnose: the weights/);
  });
});

describe('lwin/stats', () => {
  const samples = sampleStable(new Rng(7), 1.5, 1, 4000);
  it.each(['ecf', 'mcculloch', 'koutrouvelis'] as const)('estimateAlpha(%s) finds α = 1.5 from 4000 samples within 0.15', (method) => {
    const estimate = estimateAlpha(samples, method);
    expect(Math.abs(estimate.alpha - 1.5)).toBeLessThan(0.15);
  });

  it.each([0.8, 1.3, 2])('stable.quantile inverts stable.cdf, the median is 0 and the density integrates to the cdf (α = %s)', (alpha) => {
    expect(stable.cdf(0, alpha)).toBeCloseTo(0.5, 12);
    for (const p of [0.05, 0.3, 0.9]) expect(stable.cdf(stable.quantile(p, alpha, 2), alpha, 2)).toBeCloseTo(p, 6);
    // Midpoint rule over [0, 1]: F(1) − F(0) = ∫ f.
    let mass = 0;
    for (let i = 0; i < 400; i++) mass += stable.pdf((i + 0.5) / 400, alpha) / 400;
    expect(mass).toBeCloseTo(stable.cdf(1, alpha) - 0.5, 5);
  });
});

describe('the entries reach only what their runtime has', () => {
  it('lwin/stats imports no GPU module, no node: builtin and no package', () => {
    const { files, packages } = entryImports(ROOT, 'src/stats/index.ts');
    expect(files.filter((f) => f.startsWith('src/gpu/') || f.startsWith('shaders/'))).toEqual([]);
    expect([...packages]).toEqual([]);
  });

  // study/outputs.ts and resume.ts still import the disk storage for their Node-only helpers (never called from a
  // page, stubbed by the bundle: see package.test.ts's browser check); the file-system study and report are not reached.
  it('the browser entry reaches neither the file-system study (run.ts) nor `lwin report`', () => {
    const { files } = entryImports(ROOT, 'src/browser.ts');
    expect(files).toContain('src/api/study.ts');
    expect(files.filter((f) => ['src/study/run.ts', 'src/report/index.ts', 'src/cli/run.ts'].includes(f))).toEqual([]);
  });
});
