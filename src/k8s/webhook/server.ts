// The HTTPS server of the validating webhooks: AdmissionReview v1 on
// /validate-openperouter-io-v1alpha1-<kind>, plus GET /healthz and /readyz as upstream's webhook server
// has. The serving certificate is swapped in place (setSecureContext) when it is rotated.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../frr/log.js';
import { type AdmissionDecision, type AdmissionRequest, kindOfPath } from './admission.js';
import type { CertificateAndKey } from './certificates.js';

export type Validate = (pathKind: string, req: AdmissionRequest) => Promise<AdmissionDecision>;

export interface WebhookServerOptions {
  port: number;
  host?: string;
  certificate: CertificateAndKey;
  validate: Validate;
  log: Logger;
  /** Called once per answered review (metrics). */
  observe?: (kind: string, operation: string, allowed: boolean) => void;
  /** Largest accepted request body (default 3 MiB, the API server's own limit). */
  maxBodyBytes?: number;
}

export interface WebhookServer {
  port: number;
  setCertificate(c: CertificateAndKey): void;
  close(): Promise<void>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const maxBody = opts.maxBodyBytes ?? 3 * 1024 * 1024;
  const server: Server = createServer({ key: opts.certificate.keyPem, cert: opts.certificate.certPem });
  server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (code: number, body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(code, {
        'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (path === '/healthz' || path === '/readyz') {
      if (req.method !== 'GET') send(405, 'method not allowed\n');
      else send(200, { status: 'ok' });
      return;
    }
    const kind = kindOfPath(path);
    if (!kind) {
      send(404, 'not found\n');
      return;
    }
    if (req.method !== 'POST') {
      send(405, 'method not allowed\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxBody) chunks.push(c);
    });
    req.on('end', () => {
      if (size > maxBody) {
        send(413, 'request body too large\n');
        return;
      }
      let review: unknown;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        send(400, `cannot decode the AdmissionReview: ${(err as Error).message}\n`);
        return;
      }
      const request = isObject(review) ? review['request'] : undefined;
      if (
        !isObject(review) ||
        review['apiVersion'] !== 'admission.k8s.io/v1' ||
        review['kind'] !== 'AdmissionReview' ||
        !isObject(request) ||
        typeof request['uid'] !== 'string'
      ) {
        send(400, 'expected an admission.k8s.io/v1 AdmissionReview with a request.uid\n');
        return;
      }
      const areq = request as unknown as AdmissionRequest;
      const reply = (d: AdmissionDecision) => {
        opts.observe?.(kind, areq.operation, d.allowed);
        send(200, {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: {
            uid: areq.uid,
            allowed: d.allowed,
            ...(d.warnings.length > 0 ? { warnings: d.warnings } : {}),
            ...(d.allowed
              ? {}
              : {
                  status: {
                    code: d.code ?? 403,
                    reason: d.code === 500 ? 'InternalError' : d.code === 400 ? 'BadRequest' : 'Forbidden',
                    message: d.message ?? 'denied',
                  },
                }),
          },
        });
      };
      opts.validate(kind, areq).then(reply, (err: unknown) => {
        opts.log.error({ err, kind, name: areq.name, namespace: areq.namespace }, 'admission check failed');
        // Fail closed (the webhooks are failurePolicy: Fail): an unreadable cluster state denies.
        reply({
          allowed: false,
          code: 500,
          message: `cannot validate ${kind} ${areq.namespace ? `${areq.namespace}/` : ''}${areq.name ?? ''}: ${(err as Error).message}`,
          warnings: [],
        });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    setCertificate: (c) => server.setSecureContext({ key: c.keyPem, cert: c.certPem }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
