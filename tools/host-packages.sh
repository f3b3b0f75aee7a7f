#!/usr/bin/env bash
# Installs the Debian packages that `make image` and the real node need, where they are missing:
# podman (daemonless image builds), debootstrap (the base image), gcc and libc6-dev (the static pause
# binary), runc and the CNI plugins (containers on the real node), iptables and conntrack (kube-proxy),
# iproute2 (the node's bridge), ipset (kube-router's network-policy firewall). Nothing is done when
# all are there; otherwise it needs root.
set -euo pipefail
want=(podman debootstrap gcc libc6-dev runc containernetworking-plugins iptables conntrack iproute2 ipset)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]}; as root: apt-get install ${missing[*]}" >&2
  exit 2
fi
echo "installing Debian packages: ${missing[*]}" >&2
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
