import { MAX_BODY_BYTES, MAX_ROLES_PER_HOST, type HostDesiredStateControl } from '#contracts';

/** Generations are JavaScript numbers: none can ever be wider than this one. */
const WIDEST_GENERATION = Number.MAX_SAFE_INTEGER;

/**
 * The bytes of the state's host.desired-state body (JSON, as published) with every generation
 * at its widest, so that a state that fits today still fits however far its counters rise.
 */
export function desiredStateBytes(state: HostDesiredStateControl): number {
  const widest = { ...state, generation: WIDEST_GENERATION, roles: state.roles.map((role) => ({ ...role, generation: WIDEST_GENERATION })) };
  return Buffer.byteLength(JSON.stringify(widest));
}

/**
 * Why the host could not take this desired state (its consumer would refuse the message, and
 * the host would be stuck on its last state), or undefined when it can.
 */
export function desiredStateProblem(state: HostDesiredStateControl, changedRole: string): string | undefined {
  if (state.roles.length > MAX_ROLES_PER_HOST) {
    return `host ${state.hostId} would have ${state.roles.length} roles, more than the ${MAX_ROLES_PER_HOST} a host accepts`;
  }
  const bytes = desiredStateBytes(state);
  if (bytes <= MAX_BODY_BYTES) return undefined;
  const config = state.roles.find((role) => role.name === changedRole)?.config ?? {};
  return (
    `host ${state.hostId}'s desired state would take ${bytes} bytes with role ${changedRole} (whose config takes ${Buffer.byteLength(JSON.stringify(config))}), ` +
    `more than the ${MAX_BODY_BYTES} a host accepts in one message: give the role a smaller config, or take other roles off the host`
  );
}
