// What nodelet and the host agent share: the status file's keys, and a tolerant reader of it.
export { emptyStatus, NODE_STATES, parseStatus, PHASE_STATES } from './kube-status';
export type { EtcdBackupStatus, KubeStatus, NodeState, PhaseState, PhaseStatus } from './kube-status';
