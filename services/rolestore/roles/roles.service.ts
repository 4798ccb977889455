import type { Readable } from 'node:stream';
import { ErrorCodes, type RoleUploadView, type RoleView } from '#contracts';
import { ApplicationError } from '#amqp';
import { inspectPackage, RolePackageError } from '#role-package';
import type { Logger } from '#logging';
import type { PackageStore } from './package-store';
import type { RoleVersionsRepository } from './role-versions.repository';
import { compareSemver } from './semver';

export class RolesService {
  constructor(
    private readonly versions: RoleVersionsRepository,
    private readonly store: PackageStore,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Checks a package (section 6 of the contract) and keeps it; the same name and version twice is a conflict. */
  async upload(bytes: Buffer): Promise<RoleUploadView> {
    let inspected: Awaited<ReturnType<typeof inspectPackage>>;
    try {
      inspected = await inspectPackage(bytes);
    } catch (err) {
      if (err instanceof RolePackageError) throw new ApplicationError(ErrorCodes.validationFailed, err.message, err.details);
      throw err;
    }
    const { manifest, sha256 } = inspected;
    if (await this.versions.find(manifest.name, manifest.version)) {
      throw new ApplicationError(ErrorCodes.conflict, `role ${manifest.name} ${manifest.version} exists already`);
    }
    // The file first: a row never points at a package that is not there.
    await this.store.save(manifest.name, manifest.version, bytes);
    const inserted = await this.versions.insert({
      name: manifest.name,
      version: manifest.version,
      sha256,
      size_bytes: bytes.length,
      manifest: JSON.stringify(manifest),
      uploaded_ms: this.clock(),
    });
    if (!inserted) throw new ApplicationError(ErrorCodes.conflict, `role ${manifest.name} ${manifest.version} exists already`);
    this.logger.info('role package uploaded', { role: manifest.name, version: manifest.version, sha256, bytes: bytes.length });
    return { name: manifest.name, version: manifest.version, sha256 };
  }

  async list(): Promise<RoleView[]> {
    const byName = new Map<string, RoleView>();
    for (const row of await this.versions.all()) {
      const view = byName.get(row.name) ?? { name: row.name, versions: [] };
      view.versions.push({ version: row.version, sha256: row.sha256, uploadedAt: new Date(row.uploaded_ms).toISOString() });
      byName.set(row.name, view);
    }
    for (const view of byName.values()) view.versions.sort((a, b) => compareSemver(a.version, b.version));
    return [...byName.values()];
  }

  async download(name: string, version: string): Promise<{ sha256: string; size: number; stream: Readable }> {
    const row = await this.versions.find(name, version);
    if (!row || !(await this.store.exists(name, version))) {
      throw new ApplicationError(ErrorCodes.notFound, `role ${name} ${version} is not known`);
    }
    return { sha256: row.sha256, size: row.size_bytes, stream: this.store.open(name, version) };
  }
}
