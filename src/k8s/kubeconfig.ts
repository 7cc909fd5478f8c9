// Where a component finds the API server: --kubeconfig, then $KUBECONFIG, then the in-cluster service
// account (the normal case for our pods), then ~/.kube/config. One place, so every component agrees.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  type ClusterConfig,
  inClusterAvailable,
  inClusterConfig,
  loadKubeConfigFiles,
} from './client/index.js';

export interface KubeConfigSources {
  env?: NodeJS.ProcessEnv;
  /** Where the service account is mounted (tests). */
  serviceAccountDir?: string;
  home?: string;
}

export function loadKubeConfig(file?: string, s: KubeConfigSources = {}): ClusterConfig {
  const env = s.env ?? process.env;
  if (file !== undefined) return loadKubeConfigFiles([file]);
  const list = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  if (list.length > 0) {
    // As kubectl: the files of the list that exist, merged (first wins).
    const present = list.filter((f) => existsSync(f));
    if (present.length === 0)
      throw new Error(`KUBECONFIG names no file that exists: ${list.join(delimiter)}`);
    return loadKubeConfigFiles(present);
  }
  const inCluster = { env, ...(s.serviceAccountDir !== undefined ? { root: s.serviceAccountDir } : {}) };
  if (inClusterAvailable(inCluster)) return inClusterConfig(inCluster);
  const home = join(s.home ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return loadKubeConfigFiles([home]);
  throw new Error(
    'no Kubernetes API server configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account',
  );
}
