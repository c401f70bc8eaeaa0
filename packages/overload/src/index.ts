export { OverloadProtection, overloadProtection, type OverloadProtectionOptions, type ProtectedRunOptions } from './overload-protection.js';
export { PerRequestStage, ReconcilingStage, isReconcilable, type ReconcilableLimiter } from './stages.js';
