// A validation problem, always naming the object, the field and the reason.
export interface ValidationIssue {
  kind: string;
  namespace?: string;
  name: string;
  /** Field path in the object, e.g. `spec.neighbors[0].asn`; empty for the object as a whole. */
  field: string;
  message: string;
  /** File and document the object came from, when read from files. */
  source?: { file: string; document: number };
}

export function formatIssue(i: ValidationIssue): string {
  const who = `${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}`;
  const where = i.source ? ` (${i.source.file}, document ${i.source.document + 1})` : '';
  return `${who}${where}: ${i.field ? `${i.field}: ` : ''}${i.message}`;
}

/** Joins a base path and a child key the way Kubernetes prints field paths. */
export function childPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}
