import { isIP } from 'node:net';
import { initPlanePki, PkiError } from '#pki';
import { resolveDataDir } from './cli.config';
import { CliError, ioErrorText, printJson, UsageError, type Command } from './command';
import { formatFields } from './table';

const pkiInit: Command = {
  path: ['pki', 'init'],
  args: [],
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: 'the plane\'s data directory (default: $PF9_DATA_DIR, else ./.data/plane)' },
    name: { type: 'string', value: 'DNS', multiple: true, description: 'a DNS name of the ingress certificate (default: localhost)' },
    ip: { type: 'string', value: 'IP', multiple: true, description: 'an IP address of the ingress certificate (default: 127.0.0.1)' },
    force: { type: 'boolean', description: 'replace an existing CA (every host must then join again)' },
  },
  summary: 'create the plane\'s CA and the ingress certificate (on the plane\'s machine, no API call)',
  async run(ctx, _args, options) {
    const dataDir = resolveDataDir(typeof options['data-dir'] === 'string' ? options['data-dir'] : undefined, ctx.env, ctx.cwd);
    const names = strings(options.name);
    const ips = strings(options.ip);
    for (const ip of ips ?? []) if (isIP(ip) === 0) throw new UsageError(`--ip must be an IP address, got "${ip}"`);
    let paths;
    try {
      paths = await initPlanePki(dataDir, { ingressNames: names, ingressIps: ips, force: options.force === true });
    } catch (error: unknown) {
      if (error instanceof PkiError) throw new CliError(error.message);
      throw new CliError(`cannot write the PKI under ${dataDir}: ${ioErrorText(error)}`);
    }
    if (ctx.json) return printJson(ctx.stdout, paths);
    ctx.stdout.write(
      formatFields([
        ['CA certificate', paths.caCert],
        ['CA key', paths.caKey],
        ['Ingress certificate', paths.ingressCert],
        ['Ingress key', paths.ingressKey],
      ]),
    );
  },
};

export const pkiCommands: readonly Command[] = [pkiInit];

/** A repeated option's values; undefined when it was not given, so the default applies. */
function strings(value: string | boolean | string[] | undefined): string[] | undefined {
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : undefined;
}
