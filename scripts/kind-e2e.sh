#!/usr/bin/env bash
# End to end on a real Kubernetes cluster (kind), for those who have Docker, kind, kubectl and helm.
# NOT part of `make test`: the CI machines have no Docker daemon and no cluster, which is why the tests
# run the controller, nodemarker and webhooks against the API server stand-in (src/k8s/testing) and the
# lab (lab/). This script covers what the stand-in cannot: the real API server, RBAC, the image, the
# chart as installed, pods entering the router namespace.
#
# What it does:
#   1. builds the image (deploy/Dockerfile) and a kind cluster (one control plane, two workers);
#   2. gives every worker a second NIC (eth1) on a Docker network "opr-fabric" (192.168.11.0/24) where a
#      leaf runs FRR (our image, command overridden) with ASN 64512, EVPN, VRF red (VNI 100);
#   3. installs the chart, waits for the pods, applies an Underlay (eth1) and an L3VNI red;
#   4. checks: every node has a distinct openpe.io/nodeindex; every RouterNodeConfigurationStatus is
#      Ready; the leaf's BGP sessions to the nodes are Established; the leaf receives each node's
#      type-5 route for the host session's subnet; the webhook denies a clashing L3VNI; deleting the
#      L3VNI withdraws the routes.
#
#   scripts/kind-e2e.sh            # build, run, tear down
#   KEEP=1 scripts/kind-e2e.sh     # leave the cluster and the leaf running
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-openperouter-e2e}
IMAGE=${IMAGE:-openperouter:e2e}
NS=openperouter-system
FABRIC=opr-fabric
LEAF=opr-e2e-leaf

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is required" >&2; exit 1; }
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "kind-e2e: FAIL: $*" >&2; exit 1; }
# Polls "$@" until it succeeds, up to $WAIT seconds (default 180).
eventually() {
  local deadline=$((SECONDS + ${WAIT:-180}))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 3
  done
}

cleanup() {
  [ "${KEEP:-}" = 1 ] && { echo "KEEP=1: cluster $CLUSTER and container $LEAF left running"; return; }
  kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  docker rm -f "$LEAF" >/dev/null 2>&1 || true
  docker network rm "$FABRIC" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "image $IMAGE"
docker build -f deploy/Dockerfile -t "$IMAGE" .

step "kind cluster $CLUSTER (two workers)"
kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
kind create cluster --name "$CLUSTER" --config - <<'YAML'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
  - role: worker
YAML
kind load docker-image "$IMAGE" --name "$CLUSTER"
mapfile -t WORKERS < <(kind get nodes --name "$CLUSTER" | grep worker | sort)

step "fabric: leaf FRR on $FABRIC, eth1 on every worker"
docker network rm "$FABRIC" >/dev/null 2>&1 || true
docker network create --subnet 192.168.11.0/24 "$FABRIC" >/dev/null
docker rm -f "$LEAF" >/dev/null 2>&1 || true
neighbors=""
ip=3
for w in "${WORKERS[@]}"; do
  docker network connect --ip "192.168.11.$ip" "$FABRIC" "$w"
  neighbors+=" neighbor 192.168.11.$ip remote-as 64514\n"
  ip=$((ip + 1))
done
docker run -d --name "$LEAF" --privileged --network "$FABRIC" --ip 192.168.11.2 \
  --entrypoint /bin/bash "$IMAGE" -c "
set -e
ip link add red type vrf table 100 && ip link set red up
ip link add br100 type bridge && ip link set br100 master red addrgenmode none && ip link set br100 up
ip addr add 100.64.0.1/32 dev lo
ip link add vni100 type vxlan id 100 local 100.64.0.1 dstport 4789 nolearning
ip link set vni100 master br100 addrgenmode none && ip link set vni100 up
sed -i 's/^bgpd=no/bgpd=yes/' /etc/frr/daemons
printf 'frr defaults datacenter\nhostname leaf\nvrf red\n vni 100\nexit-vrf\nrouter bgp 64512\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n$neighbors address-family ipv4 unicast\n  network 100.64.0.1/32\n$(for i in $(seq 3 $((ip - 1))); do echo "  neighbor 192.168.11.$i activate"; done)\n exit-address-family\n address-family l2vpn evpn\n$(for i in $(seq 3 $((ip - 1))); do echo "  neighbor 192.168.11.$i activate"; done)\n  advertise-all-vni\n exit-address-family\nrouter bgp 64512 vrf red\n address-family l2vpn evpn\n  advertise ipv4 unicast\n exit-address-family\n' >/etc/frr/frr.conf
/usr/lib/frr/frrinit.sh start
sleep infinity"

step "install the chart"
helm upgrade --install openperouter deploy/helm/openperouter --namespace "$NS" --create-namespace \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never --wait --timeout 5m
kubectl -n "$NS" get pods -o wide

step "the objects: Underlay on eth1, L3VNI red"
cat >/tmp/kind-e2e-objects.yaml <<'YAML'
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata: {name: underlay, namespace: openperouter-system}
spec:
  asn: 64514
  interfaces: [{type: NetworkDevice, networkDevice: {interfaceName: eth1}}]
  neighbors: [{asn: 64512, address: 192.168.11.2}]
  tunnelEndpoint: {cidrs: [100.65.0.0/24]}
---
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata: {name: red, namespace: openperouter-system}
spec:
  vrf: red
  vni: 100
  hostSession: {asn: 64514, hostASN: 64515, localCIDR: {ipv4: 192.169.10.0/24}}
YAML
# The webhook may need a moment after the pods are ready (certificate, caBundle).
WAIT=120 eventually kubectl apply -f /tmp/kind-e2e-objects.yaml || kubectl apply -f /tmp/kind-e2e-objects.yaml

step "checks"
indexes=$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.annotations.openpe\.io/nodeindex}{"\n"}{end}')
[ "$(echo "$indexes" | grep -c .)" -eq "$(kubectl get nodes --no-headers | wc -l)" ] || fail "a node has no openpe.io/nodeindex: $indexes"
[ "$(echo "$indexes" | sort | uniq -d | wc -l)" -eq 0 ] || fail "duplicate node indexes: $indexes"
echo "ok: distinct node indexes ($(echo $indexes))"

ready() {
  for w in "${WORKERS[@]}"; do
    kubectl -n "$NS" get routernodeconfigurationstatuses "$w" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True || return 1
  done
}
eventually ready || { kubectl -n "$NS" get routernodeconfigurationstatuses -o yaml; fail "not every node is Ready"; }
echo "ok: every RouterNodeConfigurationStatus is Ready"

leaf() { docker exec "$LEAF" vtysh -c "$1"; }
sessions_up() {
  local n
  n=$(leaf 'show bgp summary json' | grep -c '"state":"Established"' || true)
  [ "$n" -ge "${#WORKERS[@]}" ]
}
eventually sessions_up || { leaf 'show bgp summary'; fail "the leaf's sessions to the nodes are not Established"; }
echo "ok: leaf sessions Established"

type5() { leaf 'show bgp l2vpn evpn route type prefix' | grep -q "$1"; }
eventually type5 '192.169.10.0' || { leaf 'show bgp l2vpn evpn route type prefix'; fail "no type-5 route for 192.169.10.0/24"; }
echo "ok: the leaf has the nodes' type-5 routes"

if kubectl apply -f - <<'YAML' 2>/tmp/kind-e2e-denied.txt; then
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata: {name: clash, namespace: openperouter-system}
spec: {vrf: clash, vni: 100}
YAML
  fail "the webhook admitted an L3VNI reusing VNI 100"
fi
grep -q 'denied the request' /tmp/kind-e2e-denied.txt || fail "unexpected error: $(cat /tmp/kind-e2e-denied.txt)"
echo "ok: the webhook denies a clashing L3VNI: $(cat /tmp/kind-e2e-denied.txt)"

kubectl -n "$NS" delete l3vni red
gone() { ! type5 '192.169.10.0'; }
eventually gone || fail "deleting the L3VNI did not withdraw its type-5 routes"
echo "ok: deleting the L3VNI withdrew its routes"

step "kind e2e passed"
