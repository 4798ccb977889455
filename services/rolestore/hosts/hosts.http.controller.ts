import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { HOST_AUTHORIZE, HOST_DEAUTHORIZE, type HostAuthorizeResult, type HostDeauthorizeResult, type HostDecommissionView, type HostDetailView, type HostSummaryView } from '#contracts';
import { commandOf } from '../http/contract-validation';
import { Audited } from '../operators/audited.decorator';
import { Roles } from '../operators/roles.decorator';
import { DecommissionService } from './decommission.service';
import { HostsService } from './hosts.service';

@Controller('v1/hosts')
export class HostsHttpController {
  constructor(
    private readonly hosts: HostsService,
    private readonly decommissions: DecommissionService,
  ) {}

  @Get()
  @Roles('viewer')
  list(): Promise<HostSummaryView[]> {
    return this.hosts.list();
  }

  @Get(':id')
  @Roles('viewer')
  get(@Param('id') id: string): Promise<HostDetailView> {
    return this.hosts.get(id);
  }

  @Post(':id/authorize')
  @HttpCode(200)
  @Roles('operator')
  @Audited(HOST_AUTHORIZE)
  authorize(@Param('id') id: string): Promise<HostAuthorizeResult> {
    return this.hosts.authorize(commandOf(HOST_AUTHORIZE, { hostId: id }));
  }

  @Post(':id/deauthorize')
  @HttpCode(200)
  @Roles('operator')
  @Audited(HOST_DEAUTHORIZE)
  deauthorize(@Param('id') id: string): Promise<HostDeauthorizeResult> {
    return this.hosts.deauthorize(commandOf(HOST_DEAUTHORIZE, { hostId: id }));
  }

  @Delete(':id')
  @HttpCode(200)
  // Not among the operator's rights in CONTRACT.md section 8 (authorize, deauthorize, roles, assignments, join tokens): an admin's.
  @Roles('admin')
  @Audited('host.decommission')
  decommission(@Param('id') id: string): Promise<HostDecommissionView> {
    return this.decommissions.decommission(id);
  }
}
