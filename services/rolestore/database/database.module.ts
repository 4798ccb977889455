import { Global, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Database } from './database';

/**
 * The open, migrated database, for every module by its type. Global modules shut down last
 * (Nest runs shutdown hooks from the root module outwards), so the database closes after
 * everything that writes to it has stopped.
 */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(private readonly db: Database) {}

  /** `db` is opened and migrated before the application is built (startRolestore). */
  static forRoot(db: Database): DynamicModule {
    return { module: DatabaseModule, providers: [{ provide: Database, useValue: db }], exports: [Database] };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}
