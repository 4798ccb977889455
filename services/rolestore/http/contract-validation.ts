import { describeDetails, ErrorCodes, validateMessage, validatePlain, type MessageKind, type MessageOf } from '#contracts';
import { ApplicationError } from '#amqp';

/** HTTP bodies and path parameters go through the same classes as the AMQP messages. */
export function commandOf<K extends MessageKind>(kind: K, plain: unknown): MessageOf<K> {
  const validated = validateMessage(kind, plain);
  if (!validated.ok) throw new ApplicationError(ErrorCodes.validationFailed, `invalid request: ${describeDetails(validated.details)}`, validated.details);
  return validated.value;
}

export function bodyOf<T extends object>(cls: new () => T, plain: unknown): T {
  const validated = validatePlain(cls, plain ?? {}, { forbidUnknown: true });
  if (!validated.ok) throw new ApplicationError(ErrorCodes.validationFailed, `invalid body: ${describeDetails(validated.details)}`, validated.details);
  return validated.value;
}
