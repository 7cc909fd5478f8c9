// The `Status` objects the API server stand-in answers errors with, shaped and worded like
// kube-apiserver's (k8s.io/apimachinery/pkg/api/errors), so clients and tests see the real thing.

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** What an error message needs to know about the resource (see ResourceDef). */
export interface ResourceNames {
  group: string;
  plural: string;
  kind: string;
}

/** `l3vnis.network.openperouter.io` or `nodes`: how the real server names a resource in messages. */
export function qualifiedResource(r: ResourceNames): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/** `L3VNI.network.openperouter.io` or `Node`: how the real server names a kind in Invalid messages. */
export function qualifiedKind(r: ResourceNames): string {
  return r.group ? `${r.kind}.${r.group}` : r.kind;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'StatusError';
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }

  static badRequest(message: string): StatusError {
    return new StatusError(400, 'BadRequest', message);
  }

  static invalidPatch(message: string): StatusError {
    return new StatusError(422, 'Invalid', message);
  }

  static notFound(r: ResourceNames, name: string): StatusError {
    return new StatusError(404, 'NotFound', `${qualifiedResource(r)} "${name}" not found`, {
      name,
      ...(r.group ? { group: r.group } : {}),
      kind: r.plural,
    });
  }

  static pathNotFound(): StatusError {
    return new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
  }

  static alreadyExists(r: ResourceNames, name: string): StatusError {
    return new StatusError(409, 'AlreadyExists', `${qualifiedResource(r)} "${name}" already exists`, {
      name,
      ...(r.group ? { group: r.group } : {}),
      kind: r.plural,
    });
  }

  static conflict(r: ResourceNames, name: string, why?: string): StatusError {
    const reason =
      why ?? 'the object has been modified; please apply your changes to the latest version and try again';
    return new StatusError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": ${reason}`,
      {
        name,
        ...(r.group ? { group: r.group } : {}),
        kind: r.plural,
      },
    );
  }

  static invalid(r: ResourceNames, name: string, causes: StatusCause[]): StatusError {
    const lines = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const body = lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`;
    return new StatusError(422, 'Invalid', `${qualifiedKind(r)} "${name}" is invalid: ${body}`, {
      name,
      ...(r.group ? { group: r.group } : {}),
      kind: r.kind,
      causes,
    });
  }

  static methodNotAllowed(): StatusError {
    return new StatusError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
      {},
    );
  }

  static unsupportedMediaType(accepted: string[]): StatusError {
    return new StatusError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    );
  }

  static expired(message: string): StatusError {
    return new StatusError(410, 'Expired', message);
  }

  static internal(message: string, causes?: StatusCause[]): StatusError {
    return new StatusError(500, 'InternalError', `Internal error occurred: ${message}`, {
      causes: causes ?? [{ message }],
    });
  }
}
