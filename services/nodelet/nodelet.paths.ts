import { join, resolve } from 'node:path';

/**
 * Where nodelet keeps what it reads and writes on a host, all under PF9_ROOT (`/` on a
 * real host). The names of the configuration folder, kube.env and the status file are
 * Platform9's and are what phase scripts, the pf9-kube role and the host agent rely on.
 */
export interface NodeletPaths {
  root: string;
  /** `*.yaml` / `*.yml`, merged in file-name order. */
  configDir: string;
  kubeEnv: string;
  kubeOverrideEnv: string;
  /** The status file (JSON), Platform9's extension file. */
  statusFile: string;
  /** nodelet's own state: secrets, the etcd backup record, the control socket. */
  stateDir: string;
  controlSocket: string;
  logDir: string;
  defaultEtcdBackupDir: string;
}

export function nodeletPaths(root: string): NodeletPaths {
  const r = resolve(root);
  const stateDir = join(r, 'var/opt/pf9/nodelet');
  return {
    root: r,
    configDir: join(r, 'etc/pf9/nodelet'),
    kubeEnv: join(r, 'etc/pf9/kube.env'),
    kubeOverrideEnv: join(r, 'etc/pf9/kube_override.env'),
    statusFile: join(r, 'var/opt/pf9/kube_status'),
    stateDir,
    controlSocket: join(stateDir, 'nodelet.sock'),
    logDir: join(r, 'var/log/pf9/nodelet'),
    defaultEtcdBackupDir: join(r, 'etc/pf9/etcd-backup'),
  };
}

/** The phase scripts nodelet ships: services/nodelet/phases in the installed tree (beside dist/). */
export const SHIPPED_PHASES_DIR = resolve(__dirname, '..', '..', '..', 'services', 'nodelet', 'phases');
