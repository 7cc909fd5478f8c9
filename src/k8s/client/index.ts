// A small Kubernetes API client made for exactly what openperouter calls, over node:https/node:http
// (it replaces @kubernetes/client-node, whose import alone costs ~90 MB of RSS):
// - config:      kubeconfig files (kubeconfig.ts) and the pod's service account (in-cluster.ts);
// - credentials: token, token file (re-read: rotating tokens), basic auth, client certificates, exec
//                plugins (credentials.ts, exec-credential.ts);
// - requests:    JSON, merge patch, one keep-alive agent, ApiError (http.ts, errors.ts);
// - watches and informers (watch.ts, informer.ts); typed helpers and object shapes (resources.ts).
// Not supported: auth-provider plugins, impersonation, proxies, strategic merge / server-side apply,
// protobuf, paging of lists (we list without limit), HTTP/2.
export type { ClusterConfig, ExecPlugin, UserCredentials } from './config.js';
export { ApiError, errorMessage, isApiError, type Status } from './errors.js';
export { JSON_CONTENT, KubeClient, type KubeClientOptions, MERGE_PATCH_CONTENT } from './http.js';
export { inClusterAvailable, inClusterConfig, SERVICE_ACCOUNT_DIR } from './in-cluster.js';
export { Informer, type InformerOptions } from './informer.js';
export { kubeConfigFromString, loadKubeConfigFiles } from './kubeconfig.js';
export * from './resources.js';
export { type WatchEvent, watch } from './watch.js';
