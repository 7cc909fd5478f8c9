// Exec credential plugins (client.authentication.k8s.io ExecCredential, v1 and v1beta1), what cloud
// kubeconfigs use (aws eks get-token, gke-gcloud-auth-plugin, kubelogin): run the command with its
// args and env (added to ours), with KUBERNETES_EXEC_INFO describing the request, and read an
// ExecCredential from its stdout: a bearer token and/or a client certificate and key, valid until
// status.expirationTimestamp (none: until the server answers 401).
import { spawn } from 'node:child_process';
import type { ClusterConfig, ExecPlugin } from './config.js';

export interface ExecCredentialStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  /** RFC 3339; undefined: no expiry. */
  expirationTimestamp?: string;
}

/** A plugin that has not answered within this time is killed (it must not need a human). */
const PLUGIN_TIMEOUT_MS = 60_000;

function execInfo(plugin: ExecPlugin, cluster: ClusterConfig): string {
  const spec: Record<string, unknown> = { interactive: false };
  if (plugin.provideClusterInfo) {
    spec['cluster'] = {
      server: cluster.server,
      ...(cluster.ca ? { 'certificate-authority-data': cluster.ca.toString('base64') } : {}),
      ...(cluster.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
      ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
    };
  }
  return JSON.stringify({ apiVersion: plugin.apiVersion, kind: 'ExecCredential', spec });
}

/** Runs the plugin once; rejects with the command, its exit and its stderr when it fails. */
export function runExecPlugin(plugin: ExecPlugin, cluster: ClusterConfig): Promise<ExecCredentialStatus> {
  const what = `exec credential plugin ${plugin.command}`;
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: execInfo(plugin, cluster) };
    for (const v of plugin.env) env[v.name] = v.value;
    const child = spawn(plugin.command, plugin.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), PLUGIN_TIMEOUT_MS);
    timer.unref();
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${what}: cannot run it: ${err.message}${plugin.installHint ? `\n${plugin.installHint}` : ''}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
        reject(new Error(`${what} ${how}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
        return;
      }
      let out: { apiVersion?: unknown; kind?: unknown; status?: unknown };
      try {
        out = JSON.parse(stdout) as typeof out;
      } catch {
        reject(new Error(`${what}: its output is not JSON`));
        return;
      }
      if (out.kind !== 'ExecCredential' || out.apiVersion !== plugin.apiVersion) {
        reject(
          new Error(
            `${what}: expected an ExecCredential of ${plugin.apiVersion}, got ${String(out.kind)} of ${String(out.apiVersion)}`,
          ),
        );
        return;
      }
      const s = (out.status ?? {}) as ExecCredentialStatus;
      if (!s.token && !(s.clientCertificateData && s.clientKeyData)) {
        reject(
          new Error(`${what}: the ExecCredential has neither status.token nor a client certificate and key`),
        );
        return;
      }
      resolve(s);
    });
  });
}
