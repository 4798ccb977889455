import { readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { buildPackage, inspectPackage, sha256Hex } from '#role-package';
import { CliError, ioErrorText, printJson, type Command } from './command';
import { formatFields, formatTable } from './table';

const rolesUpload: Command = {
  path: ['roles', 'upload'],
  args: ['file.tar.gz|folder'],
  options: {},
  summary: 'upload a role package (a folder is packaged first)',
  async run(ctx, [source]) {
    const pkg = await loadPackage(resolve(ctx.cwd, source));
    const result = await ctx.api.uploadRole(pkg);
    const sent = sha256Hex(pkg);
    if (result.sha256 !== sent) {
      throw new CliError(`the role store recorded sha256 ${result.sha256}, but the package sent has ${sent}`);
    }
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(formatFields([['Name', result.name], ['Version', result.version], ['SHA256', result.sha256]]));
  },
};

const rolesList: Command = {
  path: ['roles', 'list'],
  args: [],
  options: {},
  summary: 'list uploaded roles and their versions',
  async run(ctx) {
    const roles = await ctx.api.listRoles();
    if (ctx.json) return printJson(ctx.stdout, roles);
    const rows = roles.flatMap((role) =>
      role.versions.length === 0
        ? [[role.name, '-', '-', '-']]
        : role.versions.map((v) => [role.name, v.version, v.sha256.slice(0, 12), v.uploadedAt]),
    );
    ctx.stdout.write(formatTable(['NAME', 'VERSION', 'SHA256', 'UPLOADED'], rows));
  },
};

const rolesBuild: Command = {
  path: ['roles', 'build'],
  args: ['folder'],
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'where to write (default: ./<name>-<version>.tar.gz)' },
  },
  summary: 'package a role folder without uploading it',
  async run(ctx, [folder], options) {
    const pkg = await buildPackage(resolve(ctx.cwd, folder));
    const { manifest, sha256 } = await inspectPackage(pkg);
    const output = typeof options.output === 'string' ? options.output : `${manifest.name}-${manifest.version}.tar.gz`;
    const path = resolve(ctx.cwd, output);
    try {
      await writeFile(path, pkg);
    } catch (error: unknown) {
      throw new CliError(`cannot write ${path}: ${ioErrorText(error)}`);
    }
    if (ctx.json) return printJson(ctx.stdout, { path, name: manifest.name, version: manifest.version, sha256 });
    ctx.stdout.write(formatFields([['Wrote', path], ['Name', manifest.name], ['Version', manifest.version], ['SHA256', sha256]]));
  },
};

export const rolesCommands: readonly Command[] = [rolesUpload, rolesList, rolesBuild];

/** A folder is packaged on the fly; a file is sent as it is (the role store validates it). */
async function loadPackage(path: string): Promise<Buffer> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (error: unknown) {
    throw new CliError(`cannot read ${path}: ${ioErrorText(error)}`);
  }
  if (isFolder) return buildPackage(path);
  try {
    return await readFile(path);
  } catch (error: unknown) {
    throw new CliError(`cannot read ${path}: ${ioErrorText(error)}`);
  }
}

