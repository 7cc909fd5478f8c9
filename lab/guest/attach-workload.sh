#!/bin/bash
# attach-workload.sh NETNS BRIDGE PORT
# A stand-in for a CNI plugin: keeps the workload's veth PORT plugged into BRIDGE (br-hs-<VNI>, which
# the agent creates, deletes and re-creates) in namespace NETNS. Runs until the guest powers off.
ns=$1 br=$2 port=$3
attach() {
  ip -n "$ns" link show "$br" >/dev/null 2>&1 || return 0
  [[ $(ip -n "$ns" -o link show "$port" 2>/dev/null) == *"master $br "* ]] && return 0
  ip -n "$ns" link set "$port" master "$br" up
}
ip -n "$ns" monitor link | {
  attach
  while read -r line; do
    [[ $line == *"$br"* ]] && attach
  done
}
