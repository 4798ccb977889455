import { IsOptional, Matches } from 'class-validator';
import { Nested } from './validation';
import { ROLE_NAME_PATTERN, SEMVER_PATTERN } from './wire';

/** A path inside the package: relative, no "." or ".." segments, no backslashes. */
export const HOOK_PATH_PATTERN = /^(?!\/)(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._+@/-]{1,255}$/;
const HOOK_MESSAGE = { message: '$property must be a relative path inside the package' };

export const HOOK_NAMES = ['install', 'configure', 'start', 'status', 'getConfig', 'stop', 'remove'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export class RoleHooks {
  @IsOptional() @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) install?: string;
  @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) configure!: string;
  @IsOptional() @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) start?: string;
  @IsOptional() @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) status?: string;
  @IsOptional() @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) getConfig?: string;
  @IsOptional() @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) stop?: string;
  @IsOptional() @Matches(HOOK_PATH_PATTERN, HOOK_MESSAGE) remove?: string;
}

/** role.json at the root of a role package (CONTRACT.md section 6). */
export class RoleManifest {
  @Matches(ROLE_NAME_PATTERN, { message: 'name must match ^[a-z0-9][a-z0-9-]{0,62}$' })
  name!: string;

  @Matches(SEMVER_PATTERN, { message: 'version must be a semantic version' })
  version!: string;

  @Nested(() => RoleHooks)
  hooks!: RoleHooks;
}

export const ROLE_MANIFEST_FILE = 'role.json';
