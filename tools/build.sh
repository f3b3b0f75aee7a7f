#!/usr/bin/env bash
# Builds the test/dev control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), kwok, helm and promtool, the real node's parts (kubelet, kube-proxy,
# containerd with its runc shim and ctr, CoreDNS, kube-router's network-policy firewall), Traefik
# (the real-node tests' ingress controller) and Karpenter with its kwok cloud provider
# (karpenter-kwok) from the Go modules pinned under tools/*/go.mod. `tools/build.sh kueue` builds
# Kueue's controller manager, a peer of the controller benchmark only (`make bench`, not `make tools`).
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
# $build_flags (e.g. -modfile) is passed to go build.
build_flags=""
build() {
  local name=$1 dir=$2 version=$3 ldflags=$4
  shift 4
  local key="$cache/$name-$version-$go_version"
  # A wrapper module with Go source of its own (coredns's main package, traefik's stand-ins) is
  # keyed by that source too.
  local sources
  sources=$(cd "$here/$dir" && find . -name '*.go' | LC_ALL=C sort)
  if [ -n "$sources" ]; then key+="-$(cd "$here/$dir" && cat $sources | sha256sum | cut -c1-8)"; fi
  if [ ! -f "$key/.complete" ]; then
    echo "building $name $version with $go_version (cached at $key)" >&2
    local start=$SECONDS tmp
    tmp=$(mktemp -d "$cache/.build-$name-XXXXXX")
    # shellcheck disable=SC2086 # build_flags is a list of words
    (cd "$here/$dir" && go build -trimpath $build_flags -ldflags "-s -w $ldflags" -o "$tmp/" "$@")
    # go names a binary after its package path; etcd's is .../server/v3
    if [ -f "$tmp/server" ]; then mv "$tmp/server" "$tmp/etcd"; fi
    # Karpenter's kwok provider is package sigs.k8s.io/karpenter/kwok: not kwok itself
    if [ "$name" = karpenter ]; then mv "$tmp/kwok" "$tmp/karpenter-kwok"; fi
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
karpenter=$(version_of karpenter sigs.k8s.io/karpenter)
traefik=$(version_of traefik github.com/traefik/traefik/v3)
kueue=$(version_of kueue sigs.k8s.io/kueue)

# traefik_modfile DIR -> a go.mod for tools/traefik whose lego module is a copy in DIR with
# tools/traefik/overlay/lego_dns_providers.go in place of its generated DNS-provider factory: that
# file imports every DNS provider's cloud SDK, several of which the Go module proxy does not serve
# (and go build -overlay may not replace files in the module cache).
traefik_modfile() {
  local work=$1 lego
  lego=$(cd "$here/traefik" && go list -m -f '{{.Dir}}' github.com/go-acme/lego/v5)
  cp -r "$lego" "$work/lego"
  chmod -R u+w "$work/lego"
  cp "$here/traefik/overlay/lego_dns_providers.go" "$work/lego/providers/dns/zz_gen_dns_providers.go"
  cp "$here/traefik/go.mod" "$here/traefik/go.sum" "$work/"
  go mod edit -replace "github.com/go-acme/lego/v5=$work/lego" \
    -replace "github.com/traefik/traefik/dynamic/ext=$here/traefik/ext" "$work/go.mod"
  echo "$work/go.mod"
}

want=${*:-etcd kubernetes kwok helm node containerd coredns kube-router promtool karpenter traefik}
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
    traefik)
      work=$(mktemp -d)
      (cd "$here/traefik" && go mod download github.com/go-acme/lego/v5)
      build_flags="-modfile=$(traefik_modfile "$work")" build traefik traefik "$traefik" \
        "-X github.com/traefik/traefik/v3/pkg/version.Version=$traefik -X github.com/traefik/traefik/v3/pkg/version.BuildDate=$build_date" \
        github.com/traefik/traefik/v3/cmd/traefik
      rm -rf "$work"
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
    karpenter)
      # Karpenter core with its kwok cloud provider (nodes it launches are kwok's fake nodes). Its
      # CRDs are vendored, with this version noted, in tests/harness/karpenter-crds/.
      build karpenter karpenter "$karpenter" "-X sigs.k8s.io/karpenter/pkg/operator.Version=$karpenter" \
        sigs.k8s.io/karpenter/kwok
      ;;
    kueue)
      # Kueue's controller manager (sigs.k8s.io/kueue/cmd/kueue), the benchmark's queueing peer
      # (tests/bench/kueue_peer.py): a host process against the bench's control plane. Its CRDs come
      # from the same module (config/components/crd/bases), read by the bench from the module cache.
      build kueue kueue "$kueue" \
        "-X sigs.k8s.io/kueue/pkg/version.GitVersion=$kueue -X sigs.k8s.io/kueue/pkg/version.GitCommit=$kueue -X sigs.k8s.io/kueue/pkg/version.BuildDate=$build_date" \
        sigs.k8s.io/kueue/cmd/kueue
      ;;
    *) echo "unknown tool: $tool" >&2; exit 2 ;;
  esac
done
echo "tools ready in $bindir" >&2
