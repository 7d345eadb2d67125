/**
 * The envd version the facade reports in create/connect answers. The SDKs gate features on it
 * (docs/e2b-protocol.md §3.7); 0.6.13 is envd's current one and unlocks everything we serve
 * (stdin control, closeStdin, octet-stream and gzip uploads, watchDir options). From 0.4.0
 * the SDK sends no default user, so the facade applies the template's.
 */
export const ENVD_VERSION = '0.6.13';
