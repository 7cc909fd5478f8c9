#!/bin/sh
# Runs the FRR acceptance check (test/support/frr-instance.ts: syntax check, reload, no pending
# changes, idempotent second reload) on the given FRR config files, each in a throwaway FRR 8.4
# instance. Needs root and FRR; build first (npx tsc -p .). Exit 1 when any file has problems.
# usage: scripts/frr-check.sh FILE.conf...
set -eu
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || { echo "usage: $0 FILE.conf..." >&2; exit 2; }
[ -f dist/test/support/frr-instance.js ] || { echo "build first: npx tsc -p ." >&2; exit 2; }
for f in "$@"; do
  case "$f" in /*) ;; *) f="$OLDPWD/$f" ;; esac
  set -- "$@" "$f"
  shift
done
exec ./node_modules/.bin/node --input-type=module -e '
import { readFileSync } from "node:fs";
import { acceptFrrConfig } from "./dist/test/support/frr-instance.js";
let bad = 0;
for (const file of process.argv.slice(1)) {
  const r = await acceptFrrConfig(readFileSync(file, "utf8"), { name: "check" });
  console.log(`${r.problems.length === 0 ? "ok  " : "FAIL"} ${file} (${r.timings.total} ms)`);
  for (const p of r.problems) console.log(`  - ${p.replaceAll("\n", "\n    ")}`);
  if (r.problems.length > 0) bad++;
}
process.exitCode = bad > 0 ? 1 : 0;
' "$@"
