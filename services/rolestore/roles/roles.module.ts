import { Module } from '@nestjs/common';
import { HostPackagesHttpListener } from './host-packages.http-listener';
import { PackageStore } from './package-store';
import { RoleVersionsRepository } from './role-versions.repository';
import { RolesHttpController } from './roles.http.controller';
import { RolesService } from './roles.service';

/** Role packages: upload and listing (operator REST), and what hosts fetch, on its own listener (started by startRolestore). */
@Module({
  controllers: [RolesHttpController],
  providers: [RoleVersionsRepository, PackageStore, RolesService, HostPackagesHttpListener],
  exports: [RoleVersionsRepository, HostPackagesHttpListener],
})
export class RolesModule {}
