import { SetMetadata } from '@nestjs/common';

export const AUDITED_KEY = 'hostplane:audited';

/** A change: every call, allowed or refused, is recorded once in the audit log under this action (the command kind). */
export const Audited = (action: string): MethodDecorator => SetMetadata(AUDITED_KEY, action);
