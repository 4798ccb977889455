import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { API_KINDS } from '../messaging/rolestore.consumers';
import { AUDITED_KEY } from './audited.decorator';
import { PUBLIC_KEY, ROLES_KEY } from './roles.decorator';

/** @nestjs/microservices' metadata key of @MessagePattern / @EventPattern. */
const PATTERN_METADATA = 'microservices:pattern';
/** RequestMethod.GET in @nestjs/common. */
const GET = 0;

interface Handler {
  where: string;
  method: number | undefined;
  patterns: unknown[] | undefined;
  roles: unknown;
  isPublic: unknown;
  audited: unknown;
}

/** Every handler of every controller the role store has, with what its decorators say. */
function handlers(): Handler[] {
  const root = join(__dirname, '..');
  const files = (function walk(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : /\.controller\.js$/.test(e.name) ? [join(dir, e.name)] : []));
  })(root);
  const out: Handler[] = [];
  for (const file of files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exports = require(file) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      if (typeof value !== 'function') continue;
      const proto = (value as { prototype: object }).prototype;
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (name === 'constructor') continue;
        const fn = (proto as Record<string, unknown>)[name];
        if (typeof fn !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, fn) as number | undefined;
        const patterns = Reflect.getMetadata(PATTERN_METADATA, fn) as unknown[] | undefined;
        if (method === undefined && patterns === undefined) continue;
        if (Reflect.getMetadata(PATH_METADATA, fn) === undefined && patterns === undefined) continue;
        out.push({
          where: `${relative(root, file)} ${value.name}.${name}`,
          method,
          patterns,
          roles: Reflect.getMetadata(ROLES_KEY, fn) ?? Reflect.getMetadata(ROLES_KEY, value),
          isPublic: Reflect.getMetadata(PUBLIC_KEY, fn) ?? Reflect.getMetadata(PUBLIC_KEY, value),
          audited: Reflect.getMetadata(AUDITED_KEY, fn),
        });
      }
    }
  }
  return out;
}

describe('who may call each handler is said on the handler (CONTRACT.md section 8)', () => {
  const all = handlers();

  test('the controllers are found (REST routes and pf9.api commands)', () => {
    assert.ok(all.filter((h) => h.method !== undefined).length >= 15, `${all.length} handlers`);
    assert.ok(all.filter((h) => h.patterns !== undefined).length >= API_KINDS.length);
  });

  test('every REST route says its role (@Roles) or that it is public (@Public: only /healthz and /metrics), and every change on it is @Audited', () => {
    for (const h of all.filter((x) => x.method !== undefined)) {
      assert.ok(h.roles !== undefined || h.isPublic === true, `${h.where}: no @Roles and no @Public`);
      if (h.isPublic === true) assert.match(h.where, /ops\.http\.controller/, `${h.where} is public`);
      if (h.method !== GET) assert.equal(typeof h.audited, 'string', `${h.where} changes something and is not @Audited`);
    }
  });

  test('every pf9.api command has a handler that says its role and is @Audited; host events name no operator role', () => {
    const commands = all.filter((h) => h.patterns?.some((p) => (API_KINDS as readonly unknown[]).includes(p)));
    assert.deepEqual(commands.flatMap((h) => h.patterns).sort(), [...API_KINDS].sort());
    for (const h of commands) {
      assert.ok(typeof h.roles === 'string', `${h.where}: no @Roles`);
      assert.equal(typeof h.audited, 'string', `${h.where}: not @Audited`);
    }
    for (const h of all.filter((x) => x.patterns !== undefined && !commands.includes(x))) assert.equal(h.roles, undefined, `${h.where} is a host's, not an operator's`);
  });
});
