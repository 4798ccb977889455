import 'reflect-metadata';
// The public contract (CONTRACT.md, version 1): wire names, messages, REST views.
export * from './wire';
export * from './validation';
export * from './registry';
export * from './http.views';
export * from './role-manifest';
export * from './messages/host-authorize.command';
export * from './messages/host-deauthorize.command';
export * from './messages/role-assign.command';
export * from './messages/role-unassign.command';
export * from './messages/host-heartbeat.event';
export * from './messages/role-status.event';
export * from './messages/host-sync.event';
export * from './messages/nodelet-status.event';
export * from './messages/host-desired-state.control';
export * from './tunnel';
export * from './messages/host-join.dto';
export * from './messages/join-token.dto';
