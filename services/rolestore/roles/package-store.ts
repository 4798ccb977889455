import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { RolestoreConfig } from '../config/rolestore.config';

/** Role packages on disk: <PF9_DATA_DIR>/packages/<name>/<version>.tar.gz */
@Injectable()
export class PackageStore {
  private readonly root: string;

  constructor(config: RolestoreConfig) {
    this.root = join(config.dataDir, 'packages');
  }

  async save(name: string, version: string, bytes: Buffer): Promise<void> {
    const dir = join(this.root, name);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${version}.${process.pid}.${Date.now()}.partial`);
    await writeFile(temp, bytes, { flush: true });
    await rename(temp, this.path(name, version));
  }

  async exists(name: string, version: string): Promise<boolean> {
    try {
      return (await stat(this.path(name, version))).isFile();
    } catch {
      return false;
    }
  }

  open(name: string, version: string): Readable {
    return createReadStream(this.path(name, version));
  }

  private path(name: string, version: string): string {
    return join(this.root, name, `${version}.tar.gz`);
  }
}
