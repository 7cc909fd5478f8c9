// Prerequisite gates for tests that need root, real FRR or kernel features.
// Outside CI a missing prerequisite skips the test and says why; in CI (CI=true) it fails loudly,
// because CI installs everything the tests need and a silent skip would hide a broken install.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const inCI = process.env['CI'] === 'true';

/** Returns undefined when every prerequisite holds, else the reason it does not. */
export type Prerequisite = () => string | undefined;

export const isRoot: Prerequisite = () =>
  process.getuid?.() === 0 ? undefined : 'needs root (network namespaces, FRR daemons)';

export const hasFrr: Prerequisite = () => {
  for (const f of [
    '/usr/lib/frr/zebra',
    '/usr/lib/frr/bgpd',
    '/usr/lib/frr/frr-reload.py',
    '/usr/bin/vtysh',
  ]) {
    if (!existsSync(f)) return `needs FRR (${f} missing; run scripts/install-system-deps.sh as root)`;
  }
  return undefined;
};

export const hasIproute2: Prerequisite = () => {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'needs iproute2 (the ip command)';
  }
};

/**
 * Options for node:test's `test()`/`describe()`: `{ skip: reason }` when a prerequisite is missing
 * outside CI. In CI a missing prerequisite throws, failing the file with the reason.
 */
export function gate(...prereqs: Prerequisite[]): { skip?: string } {
  for (const p of prereqs) {
    const reason = p();
    if (reason !== undefined) {
      if (inCI) throw new Error(`prerequisite missing in CI: ${reason}`);
      return { skip: reason };
    }
  }
  return {};
}
