import { Body, Controller, Get, Param, Post, Res, StreamableFile } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCodes, ROLE_NAME_PATTERN, SEMVER_PATTERN, type RoleUploadView, type RoleView } from '#contracts';
import { ApplicationError } from '#amqp';
import { Audited } from '../operators/audited.decorator';
import { Roles } from '../operators/roles.decorator';
import { RolesService } from './roles.service';

@Controller('v1/roles')
export class RolesHttpController {
  constructor(private readonly roles: RolesService) {}

  /** The body is the package itself (application/gzip), parsed raw by the app's body parser. */
  @Post()
  @Roles('operator')
  @Audited('role.upload')
  upload(@Body() body: unknown): Promise<RoleUploadView> {
    return this.roles.upload(packageBytes(body));
  }

  @Get()
  @Roles('viewer')
  list(): Promise<RoleView[]> {
    return this.roles.list();
  }

  @Get(':name/:version/package')
  @Roles('viewer')
  async download(@Param('name') name: string, @Param('version') version: string, @Res({ passthrough: true }) res: Response): Promise<StreamableFile> {
    if (!ROLE_NAME_PATTERN.test(name) || !SEMVER_PATTERN.test(version)) throw new ApplicationError(ErrorCodes.notFound, `role ${name} ${version} is not known`);
    const pkg = await this.roles.download(name, version);
    res.setHeader('x-pf9-sha256', pkg.sha256);
    res.setHeader('etag', `"${pkg.sha256}"`);
    return new StreamableFile(pkg.stream, { type: 'application/gzip', length: pkg.size, disposition: `attachment; filename="${name}-${version}.tar.gz"` });
  }
}

function packageBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body) && body.length > 0) return body;
  throw new ApplicationError(ErrorCodes.validationFailed, 'the body must be a role package sent as application/gzip');
}
