import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { HOST_AUTHORIZE, HOST_DEAUTHORIZE, HostAuthorizeCommand, HostDeauthorizeCommand, type HostAuthorizeResult, type HostDeauthorizeResult } from '#contracts';
import { Audited } from '../operators/audited.decorator';
import { Roles } from '../operators/roles.decorator';
import { HostsService } from './hosts.service';

/** host.authorize and host.deauthorize on pf9.api: the same service, guard and audit as POST /v1/hosts/:id/authorize and …/deauthorize. */
@Controller()
export class HostsAmqpController {
  constructor(private readonly hosts: HostsService) {}

  @MessagePattern(HOST_AUTHORIZE)
  @Roles('operator')
  @Audited(HOST_AUTHORIZE)
  authorize(@Payload() command: HostAuthorizeCommand): Promise<HostAuthorizeResult> {
    return this.hosts.authorize(command);
  }

  @MessagePattern(HOST_DEAUTHORIZE)
  @Roles('operator')
  @Audited(HOST_DEAUTHORIZE)
  deauthorize(@Payload() command: HostDeauthorizeCommand): Promise<HostDeauthorizeResult> {
    return this.hosts.deauthorize(command);
  }
}
