import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { ErrorCodes, type RoleUploadView, type RoleView } from '#contracts';
import { ApplicationError } from '#amqp';
import { inspectPackage, RolePackageError } from '#role-package';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { PackageStore } from './package-store';
import { RoleVersionsRepository } from './role-versions.repository';
import { compareSemver } from './semver';

@Injectable()
export class RolesService {
  constructor(
    private readonly versions: RoleVersionsRepository,
    private readonly store: PackageStore,
    private readonly logger: Logger,
    private readonly clock: Clock,
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
      sizeBytes: bytes.length,
      manifest,
      uploadedMs: this.clock.now(),
    });
    if (!inserted) throw new ApplicationError(ErrorCodes.conflict, `role ${manifest.name} ${manifest.version} exists already`);
    this.logger.info('role package uploaded', { role: manifest.name, version: manifest.version, sha256, bytes: bytes.length });
    return { name: manifest.name, version: manifest.version, sha256 };
  }

  async list(): Promise<RoleView[]> {
    const byName = new Map<string, RoleView>();
    for (const role of await this.versions.all()) {
      const view = byName.get(role.name) ?? { name: role.name, versions: [] };
      view.versions.push({ version: role.version, sha256: role.sha256, uploadedAt: new Date(role.uploadedMs).toISOString() });
      byName.set(role.name, view);
    }
    for (const view of byName.values()) view.versions.sort((a, b) => compareSemver(a.version, b.version));
    return [...byName.values()];
  }

  async download(name: string, version: string): Promise<{ sha256: string; size: number; stream: Readable }> {
    const role = await this.versions.find(name, version);
    if (!role || !(await this.store.exists(name, version))) {
      throw new ApplicationError(ErrorCodes.notFound, `role ${name} ${version} is not known`);
    }
    return { sha256: role.sha256, size: role.sizeBytes, stream: this.store.open(name, version) };
  }
}
