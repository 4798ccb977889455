// Files and folders that only their owner may touch: secrets written whole and durably with
// their mode and owner from the start, folders of Unix sockets that nobody else can enter or
// plant a socket in, and local users named as in a systemd unit.
export { atomicWriteTarget, ensurePrivateDir, errnoCode, securePrivateFile, syncDirectory, writeFileAtomic, type AtomicWriteOptions, type FileOwner } from './private-files';
export { resolveLocalUser, type LocalUser } from './local-user';
export {
  MAX_SOCKET_PATH_BYTES,
  prepareSocketPath,
  SOCKET_FOLDER_MODE,
  SOCKET_MODE,
  socketFolderProblem,
  trustedSocketPath,
  type SocketFolderPolicy,
} from './socket-folder';
