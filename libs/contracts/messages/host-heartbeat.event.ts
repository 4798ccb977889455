import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
} from 'class-validator';
import { IsCount, Nested } from '../validation';
import { HOST_ID_PATTERN, ROLE_STATES, type RoleState } from '../wire';

export const HOST_HEARTBEAT = 'host.heartbeat';

export class CpuInfo {
  @IsString() @MaxLength(256) model!: string;
  @IsCount() cores!: number;
  @IsArray() @ArrayMaxSize(3) @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true }) loadavg!: number[];
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) usagePct!: number;
}

export class MemoryInfo {
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) totalBytes!: number;
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) availableBytes!: number;
}

export class StorageInfo {
  @IsString() @MaxLength(4096) mount!: string;
  @IsString() @MaxLength(64) fs!: string;
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) totalBytes!: number;
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) usedBytes!: number;
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
  @Nested(() => NetworkAddress, { each: true })
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
  @IsCount() generation!: number;
}

/** How the host agent's watchdog sees pf9-comms (added by the comms issue; optional). */
export class CommsStatus {
  @IsIn(['running', 'restarting', 'down', 'unmanaged']) state!: 'running' | 'restarting' | 'down' | 'unmanaged';
  @IsCount() restarts!: number;
  @IsOptional() @IsISO8601() lastRestartAt?: string;
  @IsOptional() @IsString() @MaxLength(512) lastRestartReason?: string;
}

export class HostHeartbeatEvent {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  @IsString() @MaxLength(255) hostname!: string;
  @IsString() @MaxLength(64) agentVersion!: string;
  @IsISO8601() sentAt!: string;
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) uptimeS!: number;

  @Nested(() => CpuInfo) cpu!: CpuInfo;
  @Nested(() => MemoryInfo) memory!: MemoryInfo;

  @IsArray()
  @ArrayMaxSize(1024)
  @Nested(() => StorageInfo, { each: true })
  storage!: StorageInfo[];

  @IsArray()
  @ArrayMaxSize(1024)
  @Nested(() => NetworkInterface, { each: true })
  network!: NetworkInterface[];

  @Nested(() => OsInfo) os!: OsInfo;

  @IsOptional() @Nested(() => CommsStatus) comms?: CommsStatus;

  @IsArray()
  @ArrayMaxSize(1024)
  @Nested(() => HeartbeatRole, { each: true })
  roles!: HeartbeatRole[];
}
