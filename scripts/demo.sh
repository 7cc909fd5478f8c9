#!/usr/bin/env bash
# make demo: the offline pipeline on the bundled example (examples/demo: validate it, then show what two
# nodes would run), then, as root, the one-machine EVPN lab (`openperouter lab up`): a leaf, external
# hosts and two nodes running the agent with real FRR inside a user-mode Linux guest, verified and torn
# down. Not root: the offline part only, and why the lab cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
opr=./bin/openperouter
example=examples/demo

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

echo "openperouter demo: the offline pipeline on $example, then the one-machine EVPN lab."
say "validate $example"
$opr validate -f "$example"

for i in 0 1; do
  say "FRR configuration of node worker-$i (node index $i)"
  $opr render frr -f "$example" --node-name "worker-$i" --node-index "$i"
done

say "kernel plan of node worker-1 (links per namespace)"
$opr render kernel -f "$example" --node-name worker-1 --node-index 1 >/tmp/openperouter-demo-kernel.json
./node_modules/.bin/node -e '
const p = JSON.parse(require("fs").readFileSync("/tmp/openperouter-demo-kernel.json", "utf8"));
const row = (ns, l) => console.log(`  ${ns.padEnd(9)} ${l.type.padEnd(7)} ${l.name.padEnd(14)} ${(l.master ?? "").padEnd(10)} ${(l.addresses ?? []).join(" ")}`);
console.log(`  namespace ${p.routerNamespace}: underlay NICs ${p.underlayInterfaces.join(", ")}; lo ${p.loopbackAddresses.join(" ")}`);
console.log("  netns     type    name           master     addresses");
for (const l of p.routerLinks) row("perouter", l);
for (const l of p.hostLinks) row("host", l);
'
say "what a bad manifest looks like"
bad=$(mktemp)
trap 'rm -f "$bad" /tmp/openperouter-demo-kernel.json' EXIT
cat >"$bad" <<'YAML'
apiVersion: network.openperouter.io/v1alpha1
kind: L2VNI
metadata: {name: orphan-gw, namespace: openperouter-system}
spec:
  vni: 4000
  gatewayIPs: [10.40.0.1/24]
  hostMaster: {type: LinuxBridge, linuxBridge: {lifecycle: Managed, name: br-mine}}
YAML
$opr validate -f "$bad" || echo "(exit code $?: nothing would be applied)"
echo
echo "offline part done: validated $example and rendered two nodes."

say "the one-machine EVPN lab (openperouter lab up)"
if [ "$(id -u)" -ne 0 ]; then
  echo "Skipping the lab: it needs root. It boots a user-mode Linux guest on this machine's root filesystem"
  echo "(the host kernel has no VRF devices), links the UML kernel modules into /lib/modules, and inside"
  echo "the guest creates network namespaces and runs FRR's daemons as the frr user."
  echo "Run 'sudo make demo' (or 'sudo ./bin/openperouter lab up') to see it."
  exit 0
fi
# A fresh machine: FRR, iproute2 and user-mode Linux come from Debian's packages.
scripts/install-system-deps.sh
$opr lab up
echo
echo "demo done. 'openperouter lab up --keep' keeps the lab running for 'openperouter lab status|exec|down'."
