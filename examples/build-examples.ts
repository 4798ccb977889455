import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { buildPackage, inspectPackage, RolePackageError } from '#role-package';

export interface BuiltExample {
  folder: string;
  name: string;
  version: string;
  path: string;
  sha256: string;
}

/** The repository root: the nearest folder above `start` holding package.json (dist/ has none). */
export function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

/** Packages every role folder in `rolesDir` as `<outDir>/<name>-<version>.tar.gz`. */
export async function buildExamples(rolesDir: string, outDir: string): Promise<BuiltExample[]> {
  const folders = (await readdir(rolesDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  await mkdir(outDir, { recursive: true });
  const built: BuiltExample[] = [];
  for (const folder of folders) {
    const pkg = await buildPackage(join(rolesDir, folder));
    const { manifest, sha256 } = await inspectPackage(pkg);
    const path = join(outDir, `${manifest.name}-${manifest.version}.tar.gz`);
    const clash = built.find((b) => b.path === path);
    if (clash) throw new Error(`${clash.folder} and ${folder} are both ${manifest.name} ${manifest.version}`);
    await writeFile(path, pkg);
    built.push({ folder, name: manifest.name, version: manifest.version, path, sha256 });
  }
  return built;
}

async function main(): Promise<void> {
  const root = findRepoRoot(__dirname);
  const built = await buildExamples(join(root, 'examples', 'roles'), join(root, 'dist', 'examples', 'roles'));
  for (const example of built) process.stdout.write(`${relative(process.cwd(), example.path)}  ${example.sha256}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    const details = error instanceof RolePackageError ? error.details.map((d) => `\n  - ${d}`).join('') : '';
    process.stderr.write(`build-examples: ${error instanceof Error ? error.message : String(error)}${details}\n`);
    process.exitCode = 1;
  });
}
