import { isDeepStrictEqual } from 'node:util';
import { Injectable } from '@nestjs/common';
import {
  ErrorCodes,
  type RoleAssignCommand,
  type RoleAssignResult,
  type RoleRetryResult,
  type RoleUnassignCommand,
  type RoleUnassignResult,
} from '#contracts';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { HostsRepository } from '../hosts/hosts.repository';
import { RoleVersionsRepository } from '../roles/role-versions.repository';
import { newestVersion } from '../roles/semver';
import { desiredStateProblem } from './desired-state.limits';
import { DesiredStatePublisher } from './desired-state.publisher';

/** The host-role mapping: every change raises the host's generation and is pushed to the host. */
@Injectable()
export class AssignmentsService {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly versions: RoleVersionsRepository,
    private readonly desiredState: DesiredStatePublisher,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async assign(command: RoleAssignCommand): Promise<RoleAssignResult> {
    const config = command.config ?? {};
    const { result, published } = await this.hosts.transaction(async (tx) => {
      const host = await this.hosts.find(command.hostId, tx);
      if (!host) throw new ApplicationError(ErrorCodes.notFound, `host ${command.hostId} is not known`);
      if (host.state !== 'authorized') throw new ApplicationError(ErrorCodes.hostNotAuthorized, `host ${command.hostId} is not authorized`);
      const version = command.version ?? newestVersion((await this.versions.versionsOf(command.role, tx)).map((found) => found.version));
      if (version === undefined) throw new ApplicationError(ErrorCodes.notFound, `role ${command.role} is not known`);
      if (!(await this.versions.find(command.role, version, tx))) {
        throw new ApplicationError(ErrorCodes.notFound, `role ${command.role} has no version ${version}`);
      }
      const current = await this.hosts.findRole(command.hostId, command.role, tx);
      if (current && current.assigned && current.version === version && isDeepStrictEqual(current.config, config)) {
        // The same assignment again changes nothing, so the generation stays.
        return { result: { hostId: command.hostId, role: command.role, version, generation: current.desiredGeneration }, published: undefined };
      }
      const now = this.clock.now();
      const generation = await this.hosts.nextGeneration(tx, command.hostId, now);
      await this.hosts.assignRole(tx, command.hostId, command.role, version, config, generation, now);
      // Checked on the state as it would be sent, in the transaction that would commit it: a refusal changes nothing.
      const state = await this.desiredState.build(command.hostId, tx);
      const problem = desiredStateProblem(state, command.role);
      if (problem !== undefined) throw new ApplicationError(ErrorCodes.validationFailed, problem);
      return { result: { hostId: command.hostId, role: command.role, version, generation }, published: state };
    });
    if (published) {
      this.logger.info('role assigned', { ...result });
      // The host row was locked from nextGeneration to the commit, so this is the state at `generation`.
      await this.desiredState.publish(published);
    }
    return result;
  }

  async unassign(command: RoleUnassignCommand): Promise<RoleUnassignResult> {
    const result = await this.hosts.transaction(async (tx) => {
      const host = await this.hosts.find(command.hostId, tx);
      if (!host) throw new ApplicationError(ErrorCodes.notFound, `host ${command.hostId} is not known`);
      const current = await this.hosts.findRole(command.hostId, command.role, tx);
      if (!current || !current.assigned) {
        throw new ApplicationError(ErrorCodes.notFound, `role ${command.role} is not assigned to host ${command.hostId}`);
      }
      const now = this.clock.now();
      const generation = await this.hosts.nextGeneration(tx, command.hostId, now);
      await this.hosts.unassignRoles(tx, command.hostId, [command.role], generation, now);
      return { hostId: command.hostId, role: command.role, generation };
    });
    this.logger.info('role unassigned', { ...result });
    await this.desiredState.publishFor(command.hostId);
    return result;
  }

  /**
   * Asks the host to try the role again now (if its last attempt failed; otherwise the host
   * does nothing). The generation stays: the role's retry token rises and the desired state
   * carrying it goes to the host, which alone decides, as for any desired state it gets from the plane.
   */
  async retry(request: { hostId: string; role: string }): Promise<RoleRetryResult> {
    const result = await this.hosts.transaction(async (tx) => {
      const host = await this.hosts.find(request.hostId, tx);
      if (!host) throw new ApplicationError(ErrorCodes.notFound, `host ${request.hostId} is not known`);
      if (host.state !== 'authorized') throw new ApplicationError(ErrorCodes.hostNotAuthorized, `host ${request.hostId} is not authorized`);
      const retry = await this.hosts.raiseRetry(tx, request.hostId, request.role, this.clock.now());
      if (retry === null) throw new ApplicationError(ErrorCodes.notFound, `role ${request.role} is not assigned to host ${request.hostId}`);
      return { hostId: request.hostId, role: request.role, generation: host.generation, retry };
    });
    this.logger.info('role retry asked for', { ...result });
    await this.desiredState.publishFor(request.hostId);
    return result;
  }
}
