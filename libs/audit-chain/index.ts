// The audit log's hash chain, shared by the role store (which appends) and the CLI (which verifies).
export { AUDIT_GENESIS_HASH, auditRecordHash, canonicalJson, verifyAuditChain, type AuditFields, type ChainCheck, type ChainedAuditRecord } from './audit-chain';
