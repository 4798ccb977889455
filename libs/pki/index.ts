// Host identity the plane can trust: a small CA (ECDSA P-256, SHA-256, PEM), the ingress's
// server certificate, hosts' keys and CSRs, and host certificates naming urn:pf9:host:<hostId>.
export {
  CERT_BACKDATE_MS,
  certificateFacts,
  certificateIsForCsr,
  createCa,
  createCrl,
  createHostKeyAndCsr,
  hostIdOfCert,
  isSignedBy,
  issueServerCert,
  keyMatchesCert,
  pemText,
  PkiError,
  signHostCsr,
  signRenewalProof,
  verifyRenewalProof,
  type CertificateFacts,
  type CertifiedKey,
  type CreateCaOptions,
  type DerCertificateHolder,
  type HostCertOptions,
  type RevocationReason,
  type RevokedCertificate,
  type ServerCertOptions,
} from './certificates';
export {
  initPlanePki,
  loadPlanePki,
  planePkiPaths,
  PlanePkiExistsError,
  PlanePkiMissingError,
  type InitPlanePkiOptions,
  type PlanePki,
  type PlanePkiPaths,
} from './plane-pki';
export { writeFileAtomic } from './pem-files';
