import type { ErrorCodes } from '#contracts';

const MAX_DETAILS_IN_MESSAGE = 5;

/** Every refusal of a role package: the package (or the folder it is built from) is not a valid role. */
export class RolePackageError extends Error {
  readonly code: (typeof ErrorCodes)['validationFailed'] = 'VALIDATION_FAILED';
  readonly details: string[];

  constructor(details: string | string[]) {
    const list = typeof details === 'string' ? [details] : details;
    super(summarise(list));
    this.name = 'RolePackageError';
    this.details = list;
  }
}

function summarise(details: string[]): string {
  const shown = details.slice(0, MAX_DETAILS_IN_MESSAGE).join('; ');
  const hidden = details.length - MAX_DETAILS_IN_MESSAGE;
  return hidden > 0 ? `${shown}; and ${hidden} more` : shown;
}
