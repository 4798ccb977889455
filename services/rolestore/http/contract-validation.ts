import { describeDetails, ErrorCodes, parseJsonBytes, validateMessage, validatePlain, type MessageKind, type MessageOf } from '#contracts';
import { ApplicationError } from '#amqp';

/** HTTP bodies and path parameters go through the same classes as the AMQP messages. */
export function commandOf<K extends MessageKind>(kind: K, plain: unknown): MessageOf<K> {
  const validated = validateMessage(kind, plain);
  if (!validated.ok) throw new ApplicationError(ErrorCodes.validationFailed, `invalid request: ${describeDetails(validated.details)}`, validated.details);
  return validated.value;
}

/** A JSON body (raw bytes from the app's parser, checked by the contract's JSON rules), validated by `cls`. */
export function bodyOf<T extends object>(cls: new () => T, body: unknown): T {
  const validated = validatePlain(cls, jsonBody(body), { forbidUnknown: true });
  if (!validated.ok) throw new ApplicationError(ErrorCodes.validationFailed, `invalid body: ${describeDetails(validated.details)}`, validated.details);
  return validated.value;
}

/** No body is an empty object; bytes are parsed as untrusted JSON (depth, `__proto__`, exact numbers, UTF-8). */
function jsonBody(body: unknown): unknown {
  if (body === undefined || body === null) return {};
  if (!Buffer.isBuffer(body)) throw new ApplicationError(ErrorCodes.validationFailed, 'the body must be a JSON object sent as application/json');
  if (body.length === 0) return {};
  const parsed = parseJsonBytes(body);
  if (!parsed.ok) throw new ApplicationError(ErrorCodes.validationFailed, parsed.problem);
  return parsed.value;
}
