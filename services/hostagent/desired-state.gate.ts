import { randomUUID } from 'node:crypto';
import type { HostDesiredStateControl } from '#contracts';

export type GateVerdict =
  /** Apply it. `authoritative`: the plane's answer to this agent's own request, taken even below the generation held. */
  | { take: true; authoritative: boolean }
  /** Not from the plane's broker user: never applied. */
  | { take: false; reason: 'forbidden' }
  /** Not newer than what is held. */
  | { take: false; reason: 'stale' }
  /** More than one generation ahead of what is held, unasked: the plane is to confirm it (ask for a sync). */
  | { take: false; reason: 'gap' };

/** How many of its own host.sync requests the agent remembers (their answers may cross). */
const REMEMBERED_SYNCS = 8;

/**
 * Which desired states the host agent acts on. Only the plane's: the broker-validated
 * user_id must be the plane's broker user (a message without one, or from anyone else, is
 * refused). And only what the plane stands by: a desired state pushed unasked is taken when it
 * is the next generation; one further ahead could be a forgery meant to freeze the host (a
 * huge generation makes it ignore every real one after it), so the agent asks for its whole
 * desired state instead, and takes the answer to its own request (the request's random
 * syncId comes back as inReplyTo) as the plane's word, even when it is lower than the
 * generation held: the plane is the source of truth, also after its database was restored.
 */
export class DesiredStateGate {
  private readonly asked: string[] = [];

  constructor(private readonly planeBrokerUser: () => string | undefined) {}

  /** A new syncId for a host.sync request, remembered until its answer comes (or enough newer ones were sent). */
  ask(): string {
    const syncId = randomUUID();
    this.asked.push(syncId);
    if (this.asked.length > REMEMBERED_SYNCS) this.asked.shift();
    return syncId;
  }

  judge(state: HostDesiredStateControl, userId: string | undefined, held: number): GateVerdict {
    const plane = this.planeBrokerUser();
    if (plane === undefined || userId !== plane) return { take: false, reason: 'forbidden' };
    const asked = state.inReplyTo === undefined ? -1 : this.asked.indexOf(state.inReplyTo);
    if (asked !== -1) {
      // Answers to requests sent before this one say nothing newer.
      this.asked.splice(0, asked + 1);
      return { take: true, authoritative: true };
    }
    if (state.generation <= held) return { take: false, reason: 'stale' };
    if (state.generation > held + 1) return { take: false, reason: 'gap' };
    // What the plane pushes next supersedes any answer still on its way, which was built before it.
    this.asked.length = 0;
    return { take: true, authoritative: false };
  }
}
