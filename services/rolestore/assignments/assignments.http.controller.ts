import { Body, Controller, Delete, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ROLE_ASSIGN, ROLE_UNASSIGN, RoleAssignBody, type RoleAssignResult, type RoleRetryResult, type RoleUnassignResult } from '#contracts';
import { bodyOf, commandOf } from '../http/contract-validation';
import { Audited } from '../operators/audited.decorator';
import { Roles } from '../operators/roles.decorator';
import { AssignmentsService } from './assignments.service';

@Controller('v1/hosts/:id/roles')
export class AssignmentsHttpController {
  constructor(private readonly assignments: AssignmentsService) {}

  @Put(':role')
  @Roles('operator')
  @Audited(ROLE_ASSIGN)
  assign(@Param('id') id: string, @Param('role') role: string, @Body() body: unknown): Promise<RoleAssignResult> {
    return this.assignments.assign(commandOf(ROLE_ASSIGN, { ...bodyOf(RoleAssignBody, body), hostId: id, role }));
  }

  @Delete(':role')
  @Roles('operator')
  @Audited(ROLE_UNASSIGN)
  unassign(@Param('id') id: string, @Param('role') role: string): Promise<RoleUnassignResult> {
    return this.assignments.unassign(commandOf(ROLE_UNASSIGN, { hostId: id, role }));
  }

  @Post(':role/retry')
  @HttpCode(200)
  @Roles('operator')
  @Audited('role.retry')
  retry(@Param('id') id: string, @Param('role') role: string): Promise<RoleRetryResult> {
    // The same two path parameters as role.unassign, checked by the same class.
    return this.assignments.retry(commandOf(ROLE_UNASSIGN, { hostId: id, role }));
  }
}
