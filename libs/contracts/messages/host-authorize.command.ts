import { Matches } from 'class-validator';
import { HOST_ID_PATTERN } from '../wire';

export const HOST_AUTHORIZE = 'host.authorize';

export class HostAuthorizeCommand {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;
}

export interface HostAuthorizeResult {
  hostId: string;
  state: 'authorized';
}
