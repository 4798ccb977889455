import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { HOST_ID_PATTERN, ROLE_STATES, type RoleState } from '../wire';

export const HOST_HEARTBEAT = 'host.heartbeat';

export class CpuInfo {
  @IsString() @MaxLength(256) model!: string;
  @IsInt() @Min(0) cores!: number;
  @IsArray() @ArrayMaxSize(3) @IsNumber({}, { each: true }) loadavg!: number[];
  @IsNumber() @Min(0) usagePct!: number;
}

export class MemoryInfo {
  @IsNumber() @Min(0) totalBytes!: number;
  @IsNumber() @Min(0) availableBytes!: number;
}

export class StorageInfo {
  @IsString() @MaxLength(4096) mount!: string;
  @IsString() @MaxLength(64) fs!: string;
  @IsNumber() @Min(0) totalBytes!: number;
  @IsNumber() @Min(0) usedBytes!: number;
}

export class NetworkAddress {
  @IsIn(['IPv4', 'IPv6']) family!: 'IPv4' | 'IPv6';
  @IsString() @MaxLength(64) address!: string;
  @IsString() @MaxLength(64) cidr!: string;
}

export class NetworkInterface {
  @IsString() @MaxLength(64) name!: string;
  @IsString() @MaxLength(32) mac!: string;

  @IsArray()
  @ArrayMaxSize(256)
  @ValidateNested({ each: true })
  @Type(() => NetworkAddress)
  addresses!: NetworkAddress[];
}

export class OsInfo {
  @IsString() @MaxLength(64) platform!: string;
  @IsString() @MaxLength(256) release!: string;
  @IsString() @MaxLength(256) distro!: string;
}

export class HeartbeatRole {
  @IsString() @MaxLength(63) name!: string;
  @IsString() @MaxLength(256) version!: string;
  @IsIn(ROLE_STATES) state!: RoleState;
  @IsInt() @Min(0) generation!: number;
}

/** How the host agent's watchdog sees pf9-comms (added by the comms issue; optional). */
export class CommsStatus {
  @IsIn(['running', 'restarting', 'down', 'unmanaged']) state!: 'running' | 'restarting' | 'down' | 'unmanaged';
  @IsInt() @Min(0) restarts!: number;
  @IsOptional() @IsISO8601() lastRestartAt?: string;
  @IsOptional() @IsString() @MaxLength(512) lastRestartReason?: string;
}

export class HostHeartbeatEvent {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  @IsString() @MaxLength(255) hostname!: string;
  @IsString() @MaxLength(64) agentVersion!: string;
  @IsISO8601() sentAt!: string;
  @IsNumber() @Min(0) uptimeS!: number;

  @ValidateNested() @Type(() => CpuInfo) cpu!: CpuInfo;
  @ValidateNested() @Type(() => MemoryInfo) memory!: MemoryInfo;

  @IsArray()
  @ArrayMaxSize(1024)
  @ValidateNested({ each: true })
  @Type(() => StorageInfo)
  storage!: StorageInfo[];

  @IsArray()
  @ArrayMaxSize(1024)
  @ValidateNested({ each: true })
  @Type(() => NetworkInterface)
  network!: NetworkInterface[];

  @ValidateNested() @Type(() => OsInfo) os!: OsInfo;

  @IsOptional() @ValidateNested() @Type(() => CommsStatus) comms?: CommsStatus;

  @IsArray()
  @ArrayMaxSize(1024)
  @ValidateNested({ each: true })
  @Type(() => HeartbeatRole)
  roles!: HeartbeatRole[];
}
