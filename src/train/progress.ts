// A progress line for long work (epoch, loss, rate, ETA), drawn only on an interactive terminal outside CI.
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

/** A cli-progress bar on stderr when interactive, otherwise nothing. */
export function terminalProgress(unit = 'epochs'): Progress {
  if (!isInteractive()) return silentProgress;
  const bar = new cliProgress.SingleBar(
    {
      format: `{label} |{bar}| {value}/{total} ${unit} | loss {loss} | {rate} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let startedAt = 0;
  let first = 0;
  return {
    start(total, done, label) {
      startedAt = performance.now();
      first = done;
      bar.start(total, done, { label, loss: '-', rate: '-' });
    },
    update(done, values) {
      const seconds = (performance.now() - startedAt) / 1000;
      const rate = seconds > 0 ? `${((done - first) / seconds).toFixed(2)} ${unit}/s` : '-';
      bar.update(done, { ...values, rate });
    },
    stop() {
      bar.stop();
    },
  };
}
