interface Chain {
  tail: Promise<void>;
  /** Pieces queued so far on this key. */
  queued: number;
  /** A failure that stops the pieces queued behind it (up to `upTo`), so they can be tried again in their order. */
  stopped: { err: unknown; upTo: number } | null;
}

/**
 * Runs the work of one key (a host) one piece after another, in the order it came, and
 * the work of different keys side by side. A piece that fails does not stop the next,
 * unless its error is one that `stopsTheRest` names (the database is away): then the
 * pieces already queued behind it fail with the same error without running, so that none
 * of them overtakes it when they are all tried again.
 */
export class PerKeyQueue {
  private readonly chains = new Map<string, Chain>();

  run<T>(key: string, work: () => Promise<T>, stopsTheRest: (err: unknown) => boolean = () => false): Promise<T> {
    let chain = this.chains.get(key);
    if (!chain) {
      chain = { tail: Promise.resolve(), queued: 0, stopped: null };
      this.chains.set(key, chain);
    }
    const own = chain;
    const seq = ++own.queued;
    const next = own.tail.then(() => {
      if (own.stopped !== null && seq <= own.stopped.upTo) throw own.stopped.err;
      return work();
    });
    const settled = next.then(
      () => undefined,
      (err: unknown) => {
        if (own.stopped === null && stopsTheRest(err)) own.stopped = { err, upTo: own.queued };
      },
    );
    own.tail = settled;
    void settled.then(() => {
      if (own.tail === settled) this.chains.delete(key);
    });
    return next;
  }

  /** Settles once the work queued so far has run. */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()].map((c) => c.tail));
  }
}
