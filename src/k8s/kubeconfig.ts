// Where a component finds the API server: --kubeconfig, then $KUBECONFIG, then the in-cluster service
// account (the normal case for our pods), then ~/.kube/config. One place, so every component agrees.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) {
    kc.loadFromFile(file);
  } else if (process.env['KUBECONFIG']) {
    kc.loadFromDefault();
  } else if (process.env['KUBERNETES_SERVICE_HOST'] && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      'no Kubernetes API server configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account',
    );
  }
  return kc;
}
