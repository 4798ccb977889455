import { SetMetadata } from '@nestjs/common';
import type { OperatorRole } from '#contracts';

export const ROLES_KEY = 'hostplane:roles';
export const PUBLIC_KEY = 'hostplane:public';

/** The least role an operator needs for this route or pf9.api command (each role includes the one before). */
export const Roles = (role: OperatorRole): MethodDecorator & ClassDecorator => SetMetadata(ROLES_KEY, role);

/** Needs no token at all (GET /healthz and GET /metrics, as CONTRACT.md section 8 says). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);
