// The agent's file primitives are the private-files library's (one atomic-write helper for every secret).
export { errnoCode, syncDirectory } from '#private-fs';
