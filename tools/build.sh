#!/usr/bin/env bash
# Builds the test/dev control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), kwok, helm and promtool, and the real node's parts (kubelet, kube-proxy,
# containerd with its runc shim and ctr, CoreDNS, kube-router's network-policy firewall) from the Go
# modules pinned under tools/*/go.mod.
#
# Binaries are cached outside the checkout, keyed by tool, version and Go version, so a fresh
# clone on the same machine reuses them: ${REVIEWOP_TOOLS_CACHE:-~/.cache/review-operator/tools}.
# .cache/bin/ in the checkout gets symlinks to the cached binaries.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${REVIEWOP_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/review-operator/tools}
bindir="$repo/.cache/bin"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
go_version=$(go env GOVERSION)
mkdir -p "$cache" "$bindir"

# version_of MODULE_DIR MODULE_PATH -> the version pinned in that go.mod
version_of() {
  awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "$here/$1/go.mod"
}

# build NAME MODULE_DIR VERSION LDFLAGS PACKAGE... : builds the packages into a keyed cache
# directory (atomically: a half-finished build never looks complete) and links them into .cache/bin.
build() {
  local name=$1 dir=$2 version=$3 ldflags=$4
  shift 4
  local key="$cache/$name-$version-$go_version"
  # A wrapper module with its own main package (coredns) is keyed by that source too.
  if compgen -G "$here/$dir/*.go" >/dev/null; then key+="-$(cat "$here/$dir"/*.go | sha256sum | cut -c1-8)"; fi
  if [ ! -f "$key/.complete" ]; then
    echo "building $name $version with $go_version (cached at $key)" >&2
    local start=$SECONDS tmp
    tmp=$(mktemp -d "$cache/.build-$name-XXXXXX")
    (cd "$here/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "$@")
    # go names a binary after its package path; etcd's is .../server/v3
    if [ -f "$tmp/server" ]; then mv "$tmp/server" "$tmp/etcd"; fi
    touch "$tmp/.complete"
    rm -rf "$key"
    mv "$tmp" "$key"
    echo "built $name in $((SECONDS - start)) s" >&2
  fi
  local bin
  for bin in "$key"/*; do
    ln -sfn "$bin" "$bindir/$(basename "$bin")"
  done
}

k8s=$(version_of k8s k8s.io/kubernetes)
minor=$(echo "$k8s" | cut -d. -f2)
build_date=1970-01-01T00:00:00Z
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

etcd=$(version_of etcd go.etcd.io/etcd/server/v3)
kwok=$(version_of kwok sigs.k8s.io/kwok)
helm=$(version_of helm helm.sh/helm/v3)
promtool=$(version_of promtool github.com/prometheus/prometheus)
containerd=$(version_of containerd github.com/containerd/containerd/v2)
coredns=$(version_of coredns github.com/coredns/coredns)
kuberouter=$(version_of kube-router github.com/cloudnativelabs/kube-router/v2)

want=${*:-etcd kubernetes kwok helm node containerd coredns kube-router promtool}
for tool in $want; do
  case $tool in
    etcd)
      build etcd etcd "$etcd" "-X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd" go.etcd.io/etcd/server/v3
      ;;
    kubernetes)
      build kubernetes k8s "$k8s" "$k8s_ldflags" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
      ;;
    node)
      # The real node's kubelet and kube-proxy, from the same module set as the control plane.
      build node k8s "$k8s" "$k8s_ldflags" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
      ;;
    containerd)
      build containerd containerd "$containerd" \
        "-X github.com/containerd/containerd/v2/version.Version=$containerd -X github.com/containerd/containerd/v2/version.Revision=$containerd" \
        github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
        github.com/containerd/containerd/v2/cmd/ctr
      ;;
    coredns)
      # tools/coredns/main.go: CoreDNS with only the plugins the harness's Corefile uses.
      build coredns coredns "$coredns" "" .
      ;;
    kube-router)
      # The real node's NetworkPolicy engine (run with only its firewall; tests/harness/netpol.py).
      build kube-router kube-router "$kuberouter" \
        "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$kuberouter -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=$build_date" \
        github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
      ;;
    kwok)
      build kwok kwok "$kwok" "-X sigs.k8s.io/kwok/pkg/consts.Version=$kwok -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$k8s" \
        sigs.k8s.io/kwok/cmd/kwok
      ;;
    helm)
      build helm helm "$helm" "-X helm.sh/helm/v3/internal/version.version=$helm -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
        helm.sh/helm/v3/cmd/helm
      ;;
    promtool)
      build promtool promtool "$promtool" "-X github.com/prometheus/common/version.Version=$promtool" \
        github.com/prometheus/prometheus/cmd/promtool
      ;;
    *) echo "unknown tool: $tool" >&2; exit 2 ;;
  esac
done
echo "tools ready in $bindir" >&2
