// The one error class of the Kubernetes client: a request the API server answered with a non-2xx
// status (or a watch ERROR event). It carries what callers branch on (the HTTP status `code`, the
// Status `reason`) and what a log line needs (method, path, the Status message), e.g.
// `PATCH /apis/network.openperouter.io/v1alpha1/...: 409 Conflict: the object has been modified`.
// Transport failures (connection refused, TLS, timeouts) are plain Errors with the same
// `METHOD path: ` prefix and the original error as `cause`.
import { STATUS_CODES } from 'node:http';

/** The `Status` object the API server answers errors with (k8s.io/apimachinery metav1.Status). */
export interface Status {
  kind?: 'Status';
  apiVersion?: string;
  status?: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
  code?: number;
}

export class ApiError extends Error {
  constructor(
    /** HTTP status code (or the Status code of a watch ERROR event). */
    readonly code: number,
    readonly method: string,
    readonly path: string,
    /** The Status the server answered with, when it was one. */
    readonly status: Status | undefined,
  ) {
    const text = STATUS_CODES[code] ?? 'Error';
    super(`${method} ${path}: ${code} ${text}${status?.message ? `: ${status.message}` : ''}`);
    this.name = 'ApiError';
  }

  /** The Status reason (NotFound, AlreadyExists, Conflict, Invalid, Expired...), if any. */
  get reason(): string | undefined {
    return this.status?.reason;
  }

  /** The server's own message (the Status message), or the HTTP status text. */
  get statusMessage(): string {
    return this.status?.message ?? STATUS_CODES[this.code] ?? `HTTP ${this.code}`;
  }
}

/** Whether `err` is an ApiError with this HTTP status code. */
export function isApiError(err: unknown, code: number): err is ApiError {
  return err instanceof ApiError && err.code === code;
}

/** A log-friendly message for any error a client call throws. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Parses an error body as a Status when it is one (the API server's errors are). */
export function parseStatus(body: string): Status | undefined {
  try {
    const v = JSON.parse(body) as unknown;
    if (v !== null && typeof v === 'object' && (v as { kind?: unknown }).kind === 'Status')
      return v as Status;
  } catch {
    // not JSON (a proxy's error page, say)
  }
  return undefined;
}
