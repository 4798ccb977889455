import { Body, Controller, Delete, Param, Put } from '@nestjs/common';
import { ROLE_ASSIGN, ROLE_UNASSIGN, RoleAssignBody, type RoleAssignResult, type RoleUnassignResult } from '#contracts';
import { bodyOf, commandOf } from '../http/contract-validation';
import { AssignmentsService } from './assignments.service';

@Controller('v1/hosts/:id/roles')
export class AssignmentsHttpController {
  constructor(private readonly assignments: AssignmentsService) {}

  @Put(':role')
  assign(@Param('id') id: string, @Param('role') role: string, @Body() body: unknown): Promise<RoleAssignResult> {
    return this.assignments.assign(commandOf(ROLE_ASSIGN, { ...bodyOf(RoleAssignBody, body), hostId: id, role }));
  }

  @Delete(':role')
  unassign(@Param('id') id: string, @Param('role') role: string): Promise<RoleUnassignResult> {
    return this.assignments.unassign(commandOf(ROLE_UNASSIGN, { hostId: id, role }));
  }
}
