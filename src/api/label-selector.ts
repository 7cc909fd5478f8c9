// metav1.LabelSelector matching and validation (what Kubernetes' labels.Selector does).
export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Problems of a selector as (relative field, message) pairs; empty when valid. */
export function selectorProblems(sel: LabelSelector | undefined): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  sel?.matchExpressions?.forEach((req, i) => {
    const at = `matchExpressions[${i}]`;
    if (!(SELECTOR_OPERATORS as readonly string[]).includes(req.operator)) {
      out.push({
        field: `${at}.operator`,
        message: `Unsupported value: ${JSON.stringify(req.operator)}: supported values: "In", "NotIn", "Exists", "DoesNotExist"`,
      });
    } else if ((req.operator === 'In' || req.operator === 'NotIn') && (req.values ?? []).length === 0) {
      out.push({
        field: `${at}.values`,
        message: `Required value: must be specified when operator is ${req.operator}`,
      });
    } else if (
      (req.operator === 'Exists' || req.operator === 'DoesNotExist') &&
      (req.values ?? []).length > 0
    ) {
      out.push({
        field: `${at}.values`,
        message: `Forbidden: may not be specified when operator is ${req.operator}`,
      });
    }
  });
  return out;
}

/** Absent and empty selectors match every node. Call only on selectors without problems. */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new Error(`label selector operator ${JSON.stringify(req.operator)} is not valid`);
    }
  }
  return true;
}
