import { describeDetails, HOST_DESIRED_STATE, MAX_BODY_BYTES, MAX_ROLES_PER_HOST, parseJsonBytes, validateMessage, type HostDesiredStateControl } from '#contracts';

/** Generations are JavaScript numbers: none can ever be wider than this one. */
const WIDEST_GENERATION = Number.MAX_SAFE_INTEGER;

/**
 * The state's host.desired-state body (JSON, as published) with every generation at its
 * widest, so that a state that fits today still fits however far its counters rise.
 */
function widestBody(state: HostDesiredStateControl): string {
  return JSON.stringify({ ...state, generation: WIDEST_GENERATION, roles: state.roles.map((role) => ({ ...role, generation: WIDEST_GENERATION })) });
}

export function desiredStateBytes(state: HostDesiredStateControl): number {
  return Buffer.byteLength(widestBody(state));
}

/**
 * Why the host could not take this desired state (its consumer would refuse the message, and
 * the host would be stuck on its last state), or undefined when it can: the consumer's own
 * checks, in its order, on the body as it would be sent.
 */
export function desiredStateProblem(state: HostDesiredStateControl, changedRole: string): string | undefined {
  if (state.roles.length > MAX_ROLES_PER_HOST) {
    return `host ${state.hostId} would have ${state.roles.length} roles, more than the ${MAX_ROLES_PER_HOST} a host accepts`;
  }
  const body = widestBody(state);
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_BODY_BYTES) {
    const config = state.roles.find((role) => role.name === changedRole)?.config ?? {};
    return (
      `host ${state.hostId}'s desired state would take ${bytes} bytes with role ${changedRole} (whose config takes ${Buffer.byteLength(JSON.stringify(config))}), ` +
      `more than the ${MAX_BODY_BYTES} a host accepts in one message: give the role a smaller config, or take other roles off the host`
    );
  }
  const parsed = parseJsonBytes(Buffer.from(body));
  if (!parsed.ok) return `host ${state.hostId}'s desired state would not pass the host's checks: ${parsed.problem}`;
  const validated = validateMessage(HOST_DESIRED_STATE, parsed.value);
  return validated.ok ? undefined : `host ${state.hostId}'s desired state would not pass the host's checks: ${describeDetails(validated.details)}`;
}
