// A progress line for long work (epoch, loss, rate, ETA), drawn only on an interactive terminal outside CI.
// LWIN_PROGRESS=lines asks for plain lines instead (one per update, with the elapsed time), for logs of batch jobs
// and for the GPU kit, which reads the epoch times from them; LWIN_PROGRESS=none silences it everywhere.
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, done: number, label: string): void;
  update(done: number, values: Record<string, string>): void;
  stop(): void;
}

export const silentProgress: Progress = { start() {}, update() {}, stop() {} };

export function isInteractive(): boolean {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  return Boolean(proc?.stderr?.isTTY) && !proc?.env?.CI;
}

type ProgressMode = 'bar' | 'lines' | 'none';

function progressMode(): ProgressMode {
  const requested = (globalThis as { process?: NodeJS.Process }).process?.env?.LWIN_PROGRESS;
  if (requested === 'lines' || requested === 'none') return requested;
  return isInteractive() ? 'bar' : 'none';
}

/** A cli-progress bar on stderr when interactive, plain lines when LWIN_PROGRESS=lines, otherwise nothing. */
export function terminalProgress(unit = 'epochs'): Progress {
  const mode = progressMode();
  if (mode === 'lines') return lineProgress(unit, (line) => process.stderr.write(`${line}\n`));
  if (mode === 'none') return silentProgress;
  const bar = new cliProgress.SingleBar(
    {
      format: `{label} |{bar}| {value}/{total} ${unit} | loss {loss} | {rate} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const clock = progressClock(unit);
  return {
    start(total, done, label) {
      clock.start(done);
      bar.start(total, done, { label, loss: '-', rate: '-' });
    },
    update(done, values) {
      bar.update(done, { ...values, rate: clock.rate(done) });
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * One line per update: `lwin progress: <label> <done>/<total> <unit>, loss L (phases), R <unit>/s, ETA E s, elapsed S s`
 * (phases: where a training epoch's time went, e.g. `batches 1.12 s, evaluation 0.31 s`).
 * The elapsed time counts from `start`, so a reader can take the time of each unit from consecutive lines.
 */
export function lineProgress(unit: string, write: (line: string) => void): Progress {
  const clock = progressClock(unit);
  let label = '';
  let total = 0;
  return {
    start(count, done, name) {
      clock.start(done);
      label = name;
      total = count;
      write(`lwin progress: ${label} ${done}/${total} ${unit}, started`);
    },
    update(done, values) {
      const seconds = clock.elapsed();
      const perUnit = done > clock.first ? seconds / (done - clock.first) : NaN;
      const eta = Number.isFinite(perUnit) ? `${(perUnit * (total - done)).toFixed(0)} s` : '-';
      const loss = values.loss ? `, loss ${values.loss}` : '';
      const phases = values.phases ? ` (${values.phases})` : '';
      write(`lwin progress: ${label} ${done}/${total} ${unit}${loss}${phases}, ${clock.rate(done)}, ETA ${eta}, elapsed ${seconds.toFixed(2)} s`);
    },
    stop() {},
  };
}

/** Rate since `start`, shared by the bar and the lines. */
function progressClock(unit: string) {
  let startedAt = 0;
  const clock = {
    first: 0,
    start(done: number) {
      startedAt = performance.now();
      clock.first = done;
    },
    elapsed: () => (performance.now() - startedAt) / 1000,
    rate(done: number): string {
      const seconds = clock.elapsed();
      return seconds > 0 ? `${((done - clock.first) / seconds).toFixed(2)} ${unit}/s` : '-';
    },
  };
  return clock;
}
