// The exact transport on worker threads: the same result as on the calling thread, bit for bit, whatever the
// number of threads; and a worker that cannot start falls back to the calling thread.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildLayout, initParams } from '../../src/model/index.ts';
import { Rng } from '../../src/util/random.ts';
import { exactTransport, sampleTransportPairs } from '../../src/diagnostics/transport.ts';
import { exactTransportInParallel, transportThreads } from '../../src/diagnostics/transport-pool.ts';
import { hostWorkers } from '../../src/diagnostics/worker-pool.ts';

const [N, T, D, H] = [6, 40, 3, 7];
const layout = buildLayout({ cell: 'gru', inputSize: D, hiddenSize: H, layernorm: true });
const params = Float32Array.from(initParams(layout, { seed: 2 }));
const rng = new Rng(9);
const x = Float32Array.from({ length: N * T * D }, () => rng.normal());
const lags = [1, 2, 4, 8, 8, 16, 30];
const pairs = sampleTransportPairs(9, N, T, 30, new Rng(4));

afterEach(() => vi.unstubAllEnvs());

describe('exact transport on worker threads', () => {
  it('LWIN_WORKERS=off keeps host work on the calling thread', async () => {
    expect(hostWorkers()).toBe(true); // Node
    vi.stubEnv('LWIN_WORKERS', 'off');
    expect(hostWorkers()).toBe(false);
    expect(await transportThreads(8)).toBe(0);
    vi.stubEnv('LWIN_WORKERS', 'sometimes');
    expect(() => hostWorkers()).toThrow(/LWIN_WORKERS=sometimes: use 'off'/);
  });

  it('the threads are one fewer than the cores (at least one), no more than the sequences; LWIN_TRANSPORT_THREADS sets them', async () => {
    expect(await transportThreads(1)).toBe(1);
    vi.stubEnv('LWIN_TRANSPORT_THREADS', '3');
    expect(await transportThreads(8)).toBe(3);
    expect(await transportThreads(2)).toBe(2);
    vi.stubEnv('LWIN_TRANSPORT_THREADS', '0');
    expect(await transportThreads(8)).toBe(0);
  });

  it('gives exactTransport\'s result, bit for bit, on 0, 1, 2 and 5 threads', async () => {
    expect(new Set(pairs.map((p) => p.sequence)).size).toBeGreaterThan(2); // several jobs
    const alone = exactTransport(layout, params, x, T, pairs, lags);
    for (const threads of ['0', '1', '2', '5']) {
      vi.stubEnv('LWIN_TRANSPORT_THREADS', threads);
      expect(await exactTransportInParallel(layout, params, x, T, pairs, lags), `${threads} threads`).toEqual(alone);
    }
  });

  // Under vitest a worker thread cannot load TypeScript (vitest's transform does not reach it), so the test above
  // exercises the fallback there; tsx's loader does reach worker threads, as `npx lwin` runs them.
  it('runs on real worker threads under tsx, with the same result', async () => {
    // The script counts the worker threads that answer (Node's builtin Worker, wrapped: syncBuiltinESMExports
    // passes the wrapper on to the pool's import).
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const script = `
      import { createRequire, syncBuiltinESMExports } from 'node:module';
      const threads = createRequire(import.meta.url)('node:worker_threads');
      let answered = 0;
      const Original = threads.Worker;
      threads.Worker = class extends Original {
        constructor(...args) { super(...args); this.once('message', () => answered++); }
      };
      syncBuiltinESMExports();
      const { buildLayout } = await import('${root}/src/model/index.ts');
      const { exactTransport } = await import('${root}/src/diagnostics/transport.ts');
      const { exactTransportInParallel } = await import('${root}/src/diagnostics/transport-pool.ts');
      const input = JSON.parse(process.argv.at(-1));
      const layout = buildLayout(input.config);
      const params = Float32Array.from(input.params);
      const x = Float32Array.from(input.x);
      const inline = exactTransport(layout, params, x, input.T, input.pairs, input.lags);
      const threaded = await exactTransportInParallel(layout, params, x, input.T, input.pairs, input.lags);
      const same = JSON.stringify([...inline.exactEnvelope]) === JSON.stringify([...threaded.exactEnvelope]);
      console.log(JSON.stringify({ answered, same, envelope: [...threaded.exactEnvelope] }));
    `;
    const input = JSON.stringify({ config: layout.config, params: [...params], x: [...x], T, pairs, lags });
    const dir = await mkdtemp(join(tmpdir(), 'lwin-transport-'));
    const file = join(dir, 'threads.mts');
    await writeFile(file, script);
    const { stdout } = await promisify(execFile)('npx', ['tsx', file, input], {
      env: { ...process.env, LWIN_TRANSPORT_THREADS: '2' },
    });
    await rm(dir, { recursive: true, force: true });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { answered: number; same: boolean; envelope: (number | null)[] };
    expect(out.answered).toBe(2);
    expect(out.same).toBe(true);
    expect(out.envelope).toEqual([...exactTransport(layout, params, x, T, pairs, lags).exactEnvelope].map((v) => (Number.isNaN(v) ? null : v)));
  }, 60_000);
});
