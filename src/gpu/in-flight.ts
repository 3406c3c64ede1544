// One submitted step kept in flight (a trainer's batches, an evaluation's and a diagnostic stage's chunks).
import { quiet, type Step } from './step.ts';

/**
 * Keeps one submitted step in flight: submit() waits until the new step is on the queue, then finishes the one
 * before it (awaits its completion, hands its item to `finish`), so the host's work on step k overlaps the device's
 * on step k+1. The queue runs every step's writes after the previous step's reads, so the steps may share buffers.
 */
export class OneInFlight<T> {
  private pending: { done: Promise<void>; item: T } | undefined;

  constructor(private readonly finish: (item: T) => Promise<void> | void) {}

  /** Submits `step` with its `item`; `beside` runs once it is queued, before the previous step is finished. */
  async submit(step: Step, item: T, beside?: () => void): Promise<void> {
    const done = quiet(step.submit()); // a failure surfaces when the step is finished
    await step.queued;
    beside?.();
    await this.flush();
    this.pending = { done, item };
  }

  /** Finishes the step in flight, if any. */
  async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    await pending.done;
    await this.finish(pending.item);
  }
}
