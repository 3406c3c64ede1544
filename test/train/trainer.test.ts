// Training for real on a reduced multi-lag task, exact resume, divergence and bad configurations.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../support/gpu.ts';
import { MultiLagTask } from '../../src/data/task.ts';
import { NonFiniteLossError, train, type TrainingData } from '../../src/train/trainer.ts';
import { fileSink, memorySink } from '../../src/train/sink.ts';
import { parseTrainConfig, type TrainConfig } from '../../src/train/config.ts';
import { CELL_KINDS } from '../../src/model/index.ts';
import { evaluate } from '../../src/train/evaluate.ts';
import { GATE_METRICS, gateRows } from '../../src/train/curves.ts';
import { epochPermutation, gatherBatch } from '../../src/data/batches.ts';
import { deriveSeed } from '../../src/data/seeds.ts';
import { Rng } from '../../src/util/random.ts';
import { taskTrainingData } from '../../src/study/task-data.ts';

const gpu = useGpu();

function config(overrides: Record<string, unknown>): TrainConfig {
  return parseTrainConfig({
    cell: 'gru', hidden: 32, layernorm: true, orthogonal: true, constS: 0.5,
    optimizer: { name: 'adamw', lr: 1e-2, weightDecay: 1e-4, clip: 1 },
    epochs: 10, batch: 32, seed: 3, checkpointEvery: 100, gateLogEvery: 5,
    ...overrides,
  });
}

function taskData(task: MultiLagTask, n: number): TrainingData {
  return { train: task.trainingSet(n), validation: (epoch) => task.validationSet(256, epoch) };
}

// Lags 2, 4, 8 with coefficients 0.6, 0.5, 0.4 and noise 0.3: the targets' variance splits as 0.36 + 0.25 + 0.16
// (signal) + 0.09 (noise), so the best R² is ≈ 0.89 (task.maxR2()) and a model that learned only the strongest
// lag reaches 0.36/0.86 ≈ 0.42. Requiring R² > 0.5 after 10 epochs therefore asks for more than one lag learned;
// all five cells reach 0.63–0.83 on this seed (lwin's own runs), so the margin is comfortable. PyTorch's nn.LSTM
// (torch_lstm: PyTorch's init, forget gate at σ(≈0) = 0.5, no LayerNorm) is slower: 0.44 after 10 epochs, having
// learned the strongest lag (0.42) and started on the next, so it is held to R² > 0.4 (untrained: ≈ 0) and a
// training loss below 0.8 of its first epoch's (observed 0.76; the others fall below 0.6).
const LEARNED_R2: Partial<Record<string, number>> = { torch_lstm: 0.4 };
const LOSS_FALL: Partial<Record<string, number>> = { torch_lstm: 0.8 };
// The const cell (s fixed at 0.5) picks up its second lag in a sudden escape from the one-lag plateau (R² ≈ 0.42)
// whose epoch moves with last-bit rounding: epoch 9 with the binary-tree unit sums, epoch 11 with the radix-8 tree
// (trajectories equal to 3 digits through epoch 2, then 0.438 → 0.567 at epoch 11, 0.689 at 16). Twelve epochs keep
// "more than one lag learned" without resting on that timing.
const EPOCHS: Partial<Record<string, number>> = { const: 12 };
describe('learning the reduced multi-lag task (T=64, lags 2, 4, 8, H=32, 256 sequences, 10 epochs)', () => {
  const task = new MultiLagTask({ steps: 64, inputSize: 4, lags: [2, 4, 8], coeffs: [0.6, 0.5, 0.4], noiseStd: 0.3, seed: 1 });
  const data = taskData(task, 256);
  it.each(CELL_KINDS)('%s: validation R² > 0.5 and the training loss falls', async (cell) => {
    const epochs = EPOCHS[cell] ?? 10;
    const result = await train(gpu.ctx, config({ cell, epochs }), data, { sink: memorySink() });
    result.optimizer.destroy();
    const first = result.curve[0]!;
    const last = result.curve.at(-1)!;
    expect(last.val_acc, `R² per epoch: ${result.curve.map((c) => c.val_acc.toFixed(3)).join(' ')} (best possible ${task.maxR2().toFixed(3)})`).toBeGreaterThan(LEARNED_R2[cell] ?? 0.5);
    expect(last.val_acc).toBeLessThan(task.maxR2() + 0.02);
    expect(last.train_loss).toBeLessThan((LOSS_FALL[cell] ?? 0.6) * first.train_loss);
    // The reference's 0-based `ep` with `ep % gate_log_every == 0`: after epochs 1 and 6 of 10 (every 5), and 11.
    const metrics = GATE_METRICS[cell].map(([, metric]) => metric);
    const logged = [0, 5, 10].filter((e) => e < epochs);
    expect(result.gates.map((g) => [g.epoch, g.metric])).toEqual(logged.flatMap((e) => metrics.map((m) => [e, m])));
  });
});

describe('the validation set drawn between batches', () => {
  it('gives the curves of the set drawn whole after the batches, bit for bit', async () => {
    const task = new MultiLagTask({ steps: 16, inputSize: 3, lags: [2, 5], coeffs: [0.6, 0.5], noiseStd: 0.3, seed: 4 });
    const whole = taskData(task, 96);
    const drawn = { ...whole, validationDraw: (epoch: number) => task.validationDraw(256, epoch) };
    const run = async (data: TrainingData) => {
      const result = await train(gpu.ctx, config({ cell: 'const', hidden: 8, epochs: 2 }), data, { sink: memorySink() });
      result.optimizer.destroy();
      return result.curve;
    };
    const [a, b] = [await run(whole), await run(drawn)];
    expect(b).toEqual(a);
    expect(new Set(a.map((row) => row.val_loss)).size).toBe(2); // each epoch's own set
    // The study's data: the validation set drawn on a worker thread (Node), counted as it answers.
    const study = taskTrainingData(task, 96, 256);
    expect(study.validationLater).toBeDefined();
    let drawnLater = 0;
    const later = { ...study, validationLater: async (epoch: number) => (drawnLater++, await study.validationLater!(epoch)) };
    expect(await run(later)).toEqual(a);
    expect(drawnLater).toBe(2);
    const onWorker = await study.validationLater!(7);
    expect(onWorker.x).toEqual(task.validationSet(256, 7).x);
    expect(onWorker.y).toEqual(task.validationSet(256, 7).y);
  });
});

// The reference logs, after epoch ep (0-based) with ep % gate_log_every == 0, the means over the first batch_size
// sequences of that epoch's permutation, under its metric names. With 3 epochs and every 2 the last row set is
// after epoch 3 with the final parameters, so it can be recomputed here from the same permutation.
describe('gate statistics: the reference\'s rows, from the epoch\'s first mini-batch', () => {
  const task = new MultiLagTask({ steps: 16, inputSize: 3, lags: [2, 5], coeffs: [0.7, 0.5], noiseStd: 0.3, seed: 6 });
  const data = taskData(task, 40);
  it.each(CELL_KINDS)('%s', async (cell) => {
    const cfg = config({ cell, hidden: 8, batch: 16, epochs: 3, gateLogEvery: 2 });
    const result = await train(gpu.ctx, cfg, data, { sink: memorySink() });
    result.optimizer.destroy();
    const rng = new Rng(deriveSeed(cfg.seed, 'shuffle'));
    let order = epochPermutation(data.train.count, rng);
    for (let epoch = 2; epoch <= 3; epoch++) order = epochPermutation(data.train.count, rng);
    const first = order.subarray(0, cfg.batch);
    const params = gpu.ctx.upload('test/gate-params', result.params);
    try {
      const batch = { ...gatherBatch(data.train, first), count: first.length, steps: data.train.steps, inputSize: data.train.inputSize };
      const expected = gateRows(cell, 3, (await evaluate(gpu.ctx, result.layout, params, batch, { gates: true })).gates!);
      expect(expected.map((r) => r.epoch)).toEqual(GATE_METRICS[cell].map(() => 2));
      expect(result.gates.slice(-expected.length)).toEqual(expected);
      expect(result.gates.length).toBe(2 * expected.length);
      if (cell === 'gru') expect(expected[0]!.value + expected[2]!.value).toBeCloseTo(1, 6); // z_mean + leak_mean, leak = 1 - z
    } finally {
      params.destroy();
    }
  });
});

describe('checkpoints and exact resume', () => {
  const task = new MultiLagTask({ steps: 24, inputSize: 3, lags: [2, 5], coeffs: [0.7, 0.5], noiseStd: 0.3, seed: 4 });
  const data = taskData(task, 48);
  const small = (overrides: Record<string, unknown> = {}) =>
    config({ cell: 'lstm', hidden: 12, batch: 16, epochs: 4, checkpointEvery: 2, gateLogEvery: 2, optimizer: { name: 'adamw', lr: 5e-3, weightDecay: 1e-4, clip: 1 }, ...overrides });

  it('an interrupted run resumed from its files ends with bit-identical parameters and curves', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwin-resume-'));
    try {
      const whole = await train(gpu.ctx, small(), data, { sink: memorySink() });
      whole.optimizer.destroy();
      const first = await train(gpu.ctx, small(), data, { sink: fileSink(dir), stopAfterEpoch: 3 }); // checkpoint at 2, epoch 3 lost
      first.optimizer.destroy();
      expect(first.epochsRun).toBe(3);
      const resumed = await train(gpu.ctx, small(), data, { sink: fileSink(dir), resume: true });
      resumed.optimizer.destroy();
      expect(resumed.epochsRun).toBe(4);
      expect(Buffer.from(resumed.params.buffer).equals(Buffer.from(whole.params.buffer))).toBe(true);
      expect(resumed.curve).toEqual(whole.curve);
      expect(resumed.gates).toEqual(whole.gates);
      const csv = await readFile(join(dir, 'lstm_learning_curve.csv'), 'utf8');
      expect(csv.trim().split('\n')).toHaveLength(5);
      expect(csv.split('\n')[0]).toBe('epoch,train_loss,train_acc,val_loss,val_acc');
      const gates = (await readFile(join(dir, 'gate_stats_lstm.csv'), 'utf8')).trim().split('\n');
      expect(gates[0]).toBe('epoch,metric,value');
      expect(gates.slice(1).map((line) => line.split(',').slice(0, 2).join(','))).toEqual(
        [0, 2].flatMap((e) => ['forget_mean', 'expr_mean', 'cdiag_mean'].map((m) => `${e},${m}`)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to resume a checkpoint whose curves have the columns of an older lwin', async () => {
    const sink = memorySink();
    (await train(gpu.ctx, small({ epochs: 2 }), data, { sink })).optimizer.destroy();
    const state = sink.saved.at(-1)!.state as unknown as { curve: object[]; gates: object[] };
    state.gates = [{ epoch: 1, mean_gate: 0.5, mean_leak: 0.5, mean_rdiag: 0 }];
    await expect(train(gpu.ctx, small({ epochs: 3 }), data, { sink, resume: true })).rejects.toThrow(/older lwin.*new output folder/);
  });

  it('refuses to resume a checkpoint of a different run, listing each differing setting', async () => {
    const sink = memorySink();
    (await train(gpu.ctx, small({ epochs: 2 }), data, { sink })).optimizer.destroy();
    const refused = train(gpu.ctx, small({ epochs: 3, seed: 99, optimizer: { name: 'adamw', lr: 1e-3, weightDecay: 1e-4, clip: 1 } }), data, { sink, resume: true });
    await expect(refused).rejects.toThrow(/different run; nothing was trained or overwritten. Settings that differ \(checkpoint → now\):\n  optimizer\.lr: 0\.005 → 0\.001\n  seed: 3 → 99\n/);
  });

  it('says where it resumed from, and when there was nothing to resume', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwin-resume-log-'));
    try {
      const lines: string[] = [];
      const log = (line: string) => lines.push(line);
      (await train(gpu.ctx, small({ epochs: 1 }), data, { sink: fileSink(dir), resume: true, log })).optimizer.destroy();
      (await train(gpu.ctx, small({ epochs: 3 }), data, { sink: fileSink(dir), resume: true, log })).optimizer.destroy();
      expect(lines).toEqual([
        `nothing to resume: no checkpoint in ${join(dir, 'checkpoints')} yet; training lstm from epoch 1`,
        `resumed lstm from the checkpoint at epoch 1 in ${join(dir, 'checkpoints')}; 2 of 3 epochs to go`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('failures', () => {
  const task = new MultiLagTask({ steps: 16, inputSize: 2, lags: [1], coeffs: [1], noiseStd: 0.1, seed: 2 });
  it('a diverging run stops with the epoch and batch named, keeping the curves written so far', async () => {
    const sink = memorySink();
    const diverging = config({ cell: 'diag', hidden: 8, batch: 8, epochs: 5, optimizer: { name: 'sgd', lr: 1e30, weightDecay: 0, clip: null } });
    const error = await train(gpu.ctx, diverging, taskData(task, 32), { sink }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(/epoch \d+, batch \d+/);
    expect(sink.last.curve.length).toBe((error as NonFiniteLossError).epoch - 1);
  });

  it.each([
    ['an unknown cell', { cell: 'elman' }, /cell/],
    ['an unknown optimizer', { optimizer: { name: 'adam', lr: 1e-3, weightDecay: 0 } }, /optimizer\.name/],
    ['a negative learning rate', { optimizer: { name: 'sgd', lr: -1, weightDecay: 0 } }, /optimizer\.lr/],
    ['a hidden size beyond the kernels', { hidden: 1025 }, /hidden/],
    ['an unknown key', { epochz: 3 }, /epochz/],
  ])('refuses %s with the field named', (_name, overrides, pattern) => {
    expect(() => config(overrides)).toThrow(pattern);
  });
});
