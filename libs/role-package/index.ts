// Role packages (CONTRACT.md section 6): built by the CLI, inspected by the role store on upload,
// unpacked by the host agent.
export { RolePackageError } from './role-package.error';
export { sha256Hex } from './package-digest';
export { inspectPackage } from './package-inspector';
export { extractPackage } from './package-extractor';
export type { ExtractOptions } from './package-extractor';
export { buildPackage } from './package-builder';
export { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_UNPACKED_BYTES } from './package-entry';
export type { InspectedPackage, InspectOptions, PackageEntry, PackageEntryType } from './package-entry';
