import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from './operator-tokens.service';

const PRINCIPAL = Symbol('hostplane principal');

/** The object a call is known by on either transport: the HTTP request, or the pipeline's message context. */
export function callOf(context: ExecutionContext): object {
  return context.getType() === 'http' ? context.switchToHttp().getRequest<object>() : context.switchToRpc().getContext<object>();
}

export function setPrincipal(call: object, principal: Principal): void {
  (call as Record<symbol, Principal>)[PRINCIPAL] = principal;
}

export function principalOf(call: object): Principal | undefined {
  return (call as Record<symbol, Principal | undefined>)[PRINCIPAL];
}

/** The authenticated operator, as the guard found them: `@Operator() operator: Principal`. */
export const Operator = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = principalOf(callOf(context));
  if (principal === undefined) throw new Error('@Operator() on a route without @Roles(): no principal was established');
  return principal;
});
