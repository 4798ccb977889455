import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ROLE_ASSIGN, ROLE_UNASSIGN, RoleAssignCommand, RoleUnassignCommand, type RoleAssignResult, type RoleUnassignResult } from '#contracts';
import { Audited } from '../operators/audited.decorator';
import { Roles } from '../operators/roles.decorator';
import { AssignmentsService } from './assignments.service';

/** role.assign and role.unassign on pf9.api: the same service, guard and audit as PUT and DELETE /v1/hosts/:id/roles/:role. */
@Controller()
export class AssignmentsAmqpController {
  constructor(private readonly assignments: AssignmentsService) {}

  @MessagePattern(ROLE_ASSIGN)
  @Roles('operator')
  @Audited(ROLE_ASSIGN)
  assign(@Payload() command: RoleAssignCommand): Promise<RoleAssignResult> {
    return this.assignments.assign(command);
  }

  @MessagePattern(ROLE_UNASSIGN)
  @Roles('operator')
  @Audited(ROLE_UNASSIGN)
  unassign(@Payload() command: RoleUnassignCommand): Promise<RoleUnassignResult> {
    return this.assignments.unassign(command);
  }
}
