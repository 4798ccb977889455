import { HOST_AUTHORIZE, HostAuthorizeCommand, type HostAuthorizeResult } from './messages/host-authorize.command';
import { HOST_DEAUTHORIZE, HostDeauthorizeCommand, type HostDeauthorizeResult } from './messages/host-deauthorize.command';
import { HOST_DESIRED_STATE, HostDesiredStateControl } from './messages/host-desired-state.control';
import { HOST_HEARTBEAT, HostHeartbeatEvent } from './messages/host-heartbeat.event';
import { HOST_SYNC, HostSyncEvent } from './messages/host-sync.event';
import { NODELET_STATUS, NodeletStatusEvent } from './messages/nodelet-status.event';
import { ROLE_ASSIGN, RoleAssignCommand, type RoleAssignResult } from './messages/role-assign.command';
import { ROLE_STATUS, RoleStatusEvent } from './messages/role-status.event';
import { ROLE_UNASSIGN, RoleUnassignCommand, type RoleUnassignResult } from './messages/role-unassign.command';
import { TOKEN_REVIEW, TokenReviewRequest, type TokenReviewResult } from './messages/token-review.event';
import { validatePlain, type Validated } from './validation';

/** Every message kind (the AMQP `type` property) and the class that validates its body. */
export const MESSAGE_CLASSES = {
  [HOST_AUTHORIZE]: HostAuthorizeCommand,
  [HOST_DEAUTHORIZE]: HostDeauthorizeCommand,
  [ROLE_ASSIGN]: RoleAssignCommand,
  [ROLE_UNASSIGN]: RoleUnassignCommand,
  [HOST_HEARTBEAT]: HostHeartbeatEvent,
  [ROLE_STATUS]: RoleStatusEvent,
  [HOST_SYNC]: HostSyncEvent,
  [HOST_DESIRED_STATE]: HostDesiredStateControl,
  [TOKEN_REVIEW]: TokenReviewRequest,
  [NODELET_STATUS]: NodeletStatusEvent,
} as const;

export type MessageKind = keyof typeof MESSAGE_CLASSES;
export type MessageOf<K extends MessageKind> = InstanceType<(typeof MESSAGE_CLASSES)[K]>;

/** What a request/reply kind answers with; events answer nothing. */
export interface ResultMap {
  [HOST_AUTHORIZE]: HostAuthorizeResult;
  [HOST_DEAUTHORIZE]: HostDeauthorizeResult;
  [ROLE_ASSIGN]: RoleAssignResult;
  [ROLE_UNASSIGN]: RoleUnassignResult;
  [HOST_HEARTBEAT]: void;
  [ROLE_STATUS]: void;
  [HOST_SYNC]: void;
  [HOST_DESIRED_STATE]: void;
  [TOKEN_REVIEW]: TokenReviewResult;
  [NODELET_STATUS]: void;
}
export type ResultOf<K extends MessageKind> = ResultMap[K];

/** Operator commands: strict about unknown properties, since a typo there would be silently ignored. */
export const COMMAND_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([
  HOST_AUTHORIZE,
  HOST_DEAUTHORIZE,
  ROLE_ASSIGN,
  ROLE_UNASSIGN,
]);

export function isMessageKind(value: unknown): value is MessageKind {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(MESSAGE_CLASSES, value);
}

export function validateMessage<K extends MessageKind>(kind: K, plain: unknown): Validated<MessageOf<K>> {
  const cls = MESSAGE_CLASSES[kind] as unknown as new () => MessageOf<K>;
  return validatePlain(cls, plain, { forbidUnknown: COMMAND_KINDS.has(kind) });
}
