import { Matches } from 'class-validator';
import { HOST_ID_PATTERN } from '../wire';

export const HOST_DEAUTHORIZE = 'host.deauthorize';

export class HostDeauthorizeCommand {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;
}

export interface HostDeauthorizeResult {
  hostId: string;
  state: 'unauthorized';
}
