/**
 * Runs the work of one key (a host) one piece after another, in the order it came, and
 * the work of different keys side by side. A piece that fails does not stop the next.
 */
export class PerKeyQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return next;
  }

  /** Settles once the work queued so far has run. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}
