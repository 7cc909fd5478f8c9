// What the client needs to reach one API server as one user: the resolved current context of a
// kubeconfig (kubeconfig.ts) or the pod's service account (in-cluster.ts). File contents that do not
// change are read once when the configuration is loaded (CA, client certificate and key); the token
// file is only named here and re-read by credentials.ts, because bound service account tokens rotate.

/** An exec credential plugin (kubeconfig `users[].user.exec`). */
export interface ExecPlugin {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  /** client.authentication.k8s.io/v1 or v1beta1: the ExecCredential version exchanged with the plugin. */
  apiVersion: string;
  /** Pass the cluster (server, CA) to the plugin in KUBERNETES_EXEC_INFO. */
  provideClusterInfo: boolean;
  /** Shown when the command cannot be run (how to install it). */
  installHint?: string;
}

export interface UserCredentials {
  token?: string;
  /** Read again at most once a minute, and after a 401 (rotating tokens). */
  tokenFile?: string;
  username?: string;
  password?: string;
  /** PEM client certificate and key (mutual TLS). */
  clientCertificate?: Buffer;
  clientKey?: Buffer;
  exec?: ExecPlugin;
}

export interface ClusterConfig {
  /** Where this came from, for messages: `kubeconfig /path (context x)` or `in-cluster service account`. */
  source: string;
  /** Base URL of the API server, e.g. https://10.96.0.1:443 (no trailing slash). */
  server: string;
  /** PEM bundle of the CAs that sign the server's certificate; undefined: the system's roots. */
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  /** The name to verify the server certificate against, when it is not the server URL's host. */
  tlsServerName?: string;
  /** The context's namespace (in-cluster: the pod's). */
  namespace?: string;
  user: UserCredentials;
}
