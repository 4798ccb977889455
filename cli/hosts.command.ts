import type { HostDetailView, HostHeartbeatEvent, HostNodeletView } from '#contracts';
import { printJson, type Command } from './command';
import { formatFields, formatTable, truncate } from './table';

const hostsList: Command = {
  path: ['hosts', 'list'],
  args: [],
  options: {},
  summary: 'list the hosts the plane knows',
  async run(ctx) {
    const hosts = await ctx.api.listHosts();
    if (ctx.json) return printJson(ctx.stdout, hosts);
    const rows = hosts.map((h) => [h.id, h.hostname, h.state, h.online ? 'yes' : 'no', h.lastHeartbeatAt ?? '-']);
    ctx.stdout.write(formatTable(['ID', 'HOSTNAME', 'STATE', 'ONLINE', 'LAST HEARTBEAT'], rows));
  },
};

const hostsShow: Command = {
  path: ['hosts', 'show'],
  args: ['hostId'],
  options: {},
  summary: "show a host, its inventory and its roles",
  async run(ctx, [hostId]) {
    const host = await ctx.api.getHost(hostId);
    if (ctx.json) return printJson(ctx.stdout, host);
    ctx.stdout.write(formatFields([...hostFields(host), ...inventoryFields(host.info)]));
    if (host.info !== null) ctx.stdout.write(`\n${disks(host.info.storage)}`);
    ctx.stdout.write('\n');
    if (host.nodelet) ctx.stdout.write(`${nodeletSection(host.nodelet)}\n`);
    if (host.roles.length === 0) {
      ctx.stdout.write('Roles: none assigned\n');
      return;
    }
    const rows = host.roles.map((r) => [
      r.name,
      r.version,
      r.state,
      String(r.failures),
      String(r.desiredGeneration),
      r.appliedGeneration === null ? '-' : String(r.appliedGeneration),
      truncate(r.message ?? '', 60),
    ]);
    ctx.stdout.write(formatTable(['NAME', 'VERSION', 'STATE', 'FAILURES', 'DESIRED-GEN', 'APPLIED-GEN', 'MESSAGE'], rows));
  },
};

const hostsDelete: Command = {
  path: ['hosts', 'delete'],
  args: ['hostId'],
  options: {},
  summary: 'decommission a host: its roles and record gone, its broker user deleted, its certificate revoked, its tunnels closed',
  async run(ctx, [hostId]) {
    const result = await ctx.api.deleteHost(hostId);
    if (ctx.json) return printJson(ctx.stdout, result);
    const brokerUser = { deleted: 'broker user deleted', pending: 'broker user to be deleted (the broker did not take it yet: tried again)', none: 'no broker user of its own' }[result.brokerUser];
    ctx.stdout.write(`host ${result.hostId} decommissioned: ${brokerUser}, ${result.certificateRevoked ? 'certificate revoked' : 'no certificate to revoke'}\n`);
  },
};

const authorize: Command = {
  path: ['authorize'],
  args: ['hostId'],
  options: {},
  summary: 'let a host receive roles',
  async run(ctx, [hostId]) {
    const result = await ctx.api.authorizeHost(hostId);
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(`host ${result.hostId} ${result.state}\n`);
  },
};

const deauthorize: Command = {
  path: ['deauthorize'],
  args: ['hostId'],
  options: {},
  summary: 'stop a host from receiving roles',
  async run(ctx, [hostId]) {
    const result = await ctx.api.deauthorizeHost(hostId);
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(`host ${result.hostId} ${result.state}\n`);
  },
};

export const hostsCommands: readonly Command[] = [hostsList, hostsShow, hostsDelete, authorize, deauthorize];

function hostFields(host: HostDetailView): [string, string][] {
  return [
    ['ID', host.id],
    ['Hostname', host.hostname],
    ['State', host.state],
    ['Online', host.online ? 'yes' : 'no'],
    ['Last heartbeat', host.lastHeartbeatAt ?? '-'],
    ['Broker identity', BROKER_IDENTITY_TEXT[host.brokerIdentity]],
  ];
}

const BROKER_IDENTITY_TEXT: Record<HostDetailView['brokerIdentity'], string> = {
  own: 'own (its own broker user: it acts only as itself)',
  'shared-insecure': 'shared-insecure (a broker user hosts share, PF9_INSECURE_SHARED_BROKER_USER: it can act as any of them)',
  none: 'none (not admitted: register it again with a join token made for it)',
};

function inventoryFields(info: HostHeartbeatEvent | null): [string, string][] {
  if (info === null) return [['Inventory', 'none yet (no heartbeat received)']];
  const addresses = info.network.flatMap((nic) =>
    nic.addresses.filter((a) => !isLoopback(a.address)).map((a) => `${nic.name} ${a.cidr || a.address}`),
  );
  return [
    ['OS', `${info.os.distro} (${info.os.platform} ${info.os.release})`],
    ['CPU', `${info.cpu.model}, ${info.cpu.cores} cores`],
    ['Memory', `${formatBytes(info.memory.totalBytes)} total, ${formatBytes(info.memory.availableBytes)} available`],
    ['Addresses', addresses.length === 0 ? '-' : addresses.join(', ')],
    ['Agent', info.agentVersion],
  ];
}

function disks(storage: HostHeartbeatEvent['storage']): string {
  if (storage.length === 0) return 'Disks: none reported\n';
  const rows = storage.map((d) => [d.mount, d.fs, formatBytes(d.totalBytes), d.totalBytes > 0 ? `${formatBytes(d.usedBytes)} (${Math.round((d.usedBytes / d.totalBytes) * 100)}%)` : formatBytes(d.usedBytes)]);
  return `Disks:\n${formatTable(['MOUNT', 'FS', 'SIZE', 'USED'], rows)}`;
}

/** nodelet's state (the pf9-kube role): node state, etcd backup, then each phase. */
function nodeletSection(nodelet: HostNodeletView): string {
  const fields: [string, string][] = [
    ['Nodelet', `${nodelet.state} (${nodelet.role}${nodelet.clusterId ? `, cluster ${nodelet.clusterId}` : ''}, attempt ${nodelet.attempt}${nodelet.hold ? ', held' : ''}) at ${nodelet.reportedAt}`],
  ];
  if (nodelet.configError) fields.push(['Config refused', nodelet.configError]);
  const backup = nodelet.etcdBackup;
  if (backup) {
    fields.push(['etcd backup', backup.lastSuccessAt ? `${backup.lastSuccessAt} (${formatBytes(backup.sizeBytes ?? 0)}, revision ${backup.revision ?? '-'})` : 'none yet']);
    if (backup.warning) fields.push(['WARNING', backup.warning]);
  }
  const rows = nodelet.phases.map((p) => [String(p.order), p.name, p.state, String(p.attempts), truncate(p.message.split('\n').pop() ?? '', 60)]);
  return formatFields(fields) + formatTable(['ORDER', 'PHASE', 'STATE', 'ATTEMPTS', 'LAST MESSAGE'], rows);
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
