import { Injectable, type CanActivate } from '@nestjs/common';
import { OperatorAccess } from '../messaging/operator-access';

/**
 * Every REST route passes here. Operator authentication (tokens, roles, audit) is a
 * later step; it is added in OperatorAccess, once, for HTTP and pf9.api alike.
 */
@Injectable()
export class OperatorAccessGuard implements CanActivate {
  constructor(private readonly access: OperatorAccess) {}

  canActivate(): boolean {
    this.access.assertAllowed({ transport: 'http' });
    return true;
  }
}
