#!/usr/bin/env bash
# Build and cache the "real parts" that kirsa's tests run against:
#   kube-apiserver and kubectl  from k8s.io/kubernetes     (go/kube)
#   etcd                        from go.etcd.io/etcd/server (go/etcd)
#   helm                        from helm.sh/helm/v4        (go/helm)
#   moto_server and aws         from PyPI, in a venv        (requirements.lock)
# and the parts of a one-node cluster (the node tier of the tests):
#   kubelet, kube-controller-manager, kube-scheduler, kube-proxy
#                               from k8s.io/kubernetes     (go/kube, the same module and build cache)
#   containerd, its runc shim, ctr  from github.com/containerd/containerd/v2 (go/containerd)
#   CNI bridge, host-local, loopback, portmap
#                               from github.com/containernetworking/plugins (go/cni)
#   the pause and probe images  built from source here       (go/images), as OCI archives
#   runc (the OCI runtime)      from github.com/opencontainers/runc (go/runc), with cgo and libseccomp
#
# Usage:
#   tools/realparts/build.sh               build whatever is missing, then stop
#   tools/realparts/build.sh --print-env   print `export KIRSA_...=...` lines
#   tools/realparts/build.sh --print-json  print the same as one JSON object
#   tools/realparts/build.sh --prune       delete cached parts that are no longer current
#   tools/realparts/build.sh --print-go-env  print `export GO...=...` lines: this script's Go
#                                           toolchain settings and caches, for other Go builds
#                                           (the benchmark's Go servers, bench/go-servers.ts)
#
# --print-env and --print-json never build: they fail (exit 1, one line on
# stderr) if a part is missing, so run the plain form first.
#
# Cache: ${KIRSA_TOOLS_DIR:-$HOME/.cache/kirsa-tools}. It sits outside the
# repository on purpose so that every clone on the machine (a CI run's fresh
# clone included) reuses the same build. Inside it:
#   gomod/ gocache/ pip/      Go module cache, Go build cache, pip cache
#   parts/<part>-<key>/       one folder per part; <key> hashes everything that
#                             decides the part's content (the wrapper module's
#                             go.mod and go.sum or requirements.lock, the Go or
#                             Python version, and SCRIPT_VERSION below), so a
#                             version bump rebuilds that part and only that one
# A part counts as present only when its `stamp` file exists and names the
# same key. Binaries are written under temporary names and renamed into place,
# and the stamp is written last, so an interrupted build is simply redone.
set -euo pipefail

# Bump when a change to this script must invalidate every built part.
SCRIPT_VERSION=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${KIRSA_TOOLS_DIR:-$HOME/.cache/kirsa-tools}
parts_dir="$cache/parts"

die() {
  echo "realparts: $*" >&2
  exit 1
}

# ---------------------------------------------------------------- toolchains

require_go() {
  command -v go >/dev/null 2>&1 ||
    die "go not found on PATH: install Go 1.26 or newer (it builds kube-apiserver, etcd and helm)"
  go_version=$(go env GOVERSION)
  if ! [[ $go_version =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 26)); then
    die "$go_version is too old: install Go 1.26 or newer (the pinned modules need it)"
  fi
  go_platform=$(go env GOOS)/$(go env GOARCH)
  # Everything Go writes stays in the cache folder; the builds never touch the
  # user's own module/build caches, a go.work above us, or their GOFLAGS.
  export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache"
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
  export GOFLAGS="-mod=readonly -buildvcs=false"
}

require_python() {
  command -v python3 >/dev/null 2>&1 ||
    die "python3 not found on PATH: install Python 3.9 or newer with its venv module (Debian: python3 python3-venv)"
  python3 -c 'import venv, ensurepip' 2>/dev/null ||
    die "python3 has no working venv/ensurepip module: install python3-venv"
  py_version=$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
  # The venv links to the interpreter that made it, so that one is in its key.
  py_identity="$py_version $(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')"
}

# ---------------------------------------------------------------- part keys

# key NAME EXTRA FILE...: short hash of what decides a part's content.
key() {
  local name=$1 extra=$2
  shift 2
  { printf 'realparts %s\n%s\n%s\n' "$SCRIPT_VERSION" "$name" "$extra"; cat "$@"; } |
    sha256sum | cut -c1-16
}

# version_in FILE MODULE: the version a go.mod pins MODULE at.
version_in() {
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}

# runc links the system's libseccomp, so its version is part of runc's key. build_runc computes the key
# again after require_cgo: on a fresh machine libseccomp-dev (and pkg-config) arrive only then, and a key
# taken before would name a folder --print-env never looks in (the node tier then found runc "not built").
runc_key_dir() {
  runc_dir="$parts_dir/runc-$(key runc "$go_version $go_platform $(pkg-config --modversion libseccomp 2>/dev/null)" "$here/go/runc/go.mod" "$here/go/runc/go.sum")"
}

compute_parts() {
  kube_version=$(version_in "$here/go/kube/go.mod" k8s.io/kubernetes)
  etcd_version=$(version_in "$here/go/etcd/go.mod" go.etcd.io/etcd/server/v3)
  helm_version=$(version_in "$here/go/helm/go.mod" helm.sh/helm/v4)
  moto_version=$(sed -n 's/^moto\[server\]==//p' "$here/requirements.lock")
  awscli_version=$(sed -n 's/^awscli==//p' "$here/requirements.lock")
  [[ -n $kube_version && -n $etcd_version && -n $helm_version && -n $moto_version && -n $awscli_version ]] ||
    die "could not read the pinned versions from go/*/go.mod and requirements.lock"

  containerd_version=$(version_in "$here/go/containerd/go.mod" github.com/containerd/containerd/v2)
  cni_version=$(version_in "$here/go/cni/go.mod" github.com/containernetworking/plugins)
  runc_version=$(version_in "$here/go/runc/go.mod" github.com/opencontainers/runc)
  [[ -n $containerd_version && -n $cni_version && -n $runc_version ]] ||
    die "could not read the pinned versions from go/containerd/go.mod, go/cni/go.mod and go/runc/go.mod"

  kube_dir="$parts_dir/kube-$(key kube "$go_version $go_platform" "$here/go/kube/go.mod" "$here/go/kube/go.sum")"
  etcd_dir="$parts_dir/etcd-$(key etcd "$go_version $go_platform" "$here/go/etcd/go.mod" "$here/go/etcd/go.sum")"
  helm_dir="$parts_dir/helm-$(key helm "$go_version $go_platform" "$here/go/helm/go.mod" "$here/go/helm/go.sum")"
  venv_dir="$parts_dir/venv-$(key venv "$py_identity" "$here/requirements.lock")"
  kubenode_dir="$parts_dir/kubenode-$(key kubenode "$go_version $go_platform" "$here/go/kube/go.mod" "$here/go/kube/go.sum")"
  containerd_dir="$parts_dir/containerd-$(key containerd "$go_version $go_platform" "$here/go/containerd/go.mod" "$here/go/containerd/go.sum")"
  cni_dir="$parts_dir/cni-$(key cni "$go_version $go_platform" "$here/go/cni/go.mod" "$here/go/cni/go.sum")"
  runc_key_dir
  images_dir="$parts_dir/images-$(key images "$go_version $go_platform" "$here/go/images/go.mod" "$here"/go/images/*/*.go)"
  # The images' names are what the node's containerd is told to use (the sandbox image) and what test
  # pods name; the tag is the part's key, so a changed source never hides behind an old import.
  pause_image="localhost/kirsa/pause:${images_dir##*-}"
  probe_image="localhost/kirsa/probe:${images_dir##*-}"
}

# is_built DIR FILE...: the part's stamp names this key and every file is there.
is_built() {
  local dir=$1 f
  shift
  [[ -f $dir/stamp ]] && [[ $(sed -n 's/^key=//p' "$dir/stamp") == "${dir##*-}" ]] || return 1
  for f in "$@"; do [[ -x $dir/$f ]] || return 1; done
}

write_stamp() { # DIR VERSION
  printf 'key=%s\nversion=%s\nbuilt=%s\n' "${1##*-}" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$1/stamp.tmp.$$"
  mv -f "$1/stamp.tmp.$$" "$1/stamp"
}

# Start a part afresh: forget its stamp and any half-written leftovers.
begin_part() {
  mkdir -p "$1"
  rm -f "$1/stamp" "$1"/*.tmp.*
}

# ---------------------------------------------------------------- reporting

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

report() { # PART STATE START DETAIL
  printf 'realparts: %-15s %-6s in %7s  %s\n' "$1" "$2" "$(elapsed "$3")" "$4"
}

# ---------------------------------------------------------------- builders

tmp_file=""
trap '[[ -z $tmp_file ]] || rm -f "$tmp_file"' EXIT

# go_build MODULE_DIR OUT PACKAGE LDFLAGS [GO BUILD FLAG...]: build into a temp name, then rename.
go_build() {
  local moddir=$1 out=$2 pkg=$3 ldflags=$4
  shift 4
  tmp_file="$out.tmp.$$"
  if ! (cd "$moddir" && go build -trimpath "$@" -ldflags "$ldflags" -o "$tmp_file" "$pkg"); then
    rm -f "$tmp_file"
    die "go build $pkg failed (wrapper module ${moddir#"$here/"}); the errors are above"
  fi
  mv -f "$tmp_file" "$out"
  tmp_file=""
}

# The commit date of a module version, used as a reproducible build date.
module_time() { # MODULE_DIR MODULE
  (cd "$1" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$2" 2>/dev/null) ||
    true
}

build_kube() {
  local t0=$EPOCHREALTIME
  if is_built "$kube_dir" kube-apiserver kubectl; then
    report kube-apiserver cached "$t0" "$kube_version  $kube_dir/kube-apiserver"
    report kubectl cached "$t0" "$kube_version  $kube_dir/kubectl"
    return
  fi
  begin_part "$kube_dir"
  # The API server reports these through /version and discovery, and clients
  # (kubectl, client-go, helm) compare against them, so stamp the real release
  # instead of the "v0.0.0-master" a plain `go build` leaves behind.
  local ld
  ld=$(kube_ldflags)
  go_build "$here/go/kube" "$kube_dir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ld"
  report kube-apiserver built "$t0" "$kube_version  $kube_dir/kube-apiserver"
  t0=$EPOCHREALTIME
  go_build "$here/go/kube" "$kube_dir/kubectl" k8s.io/kubernetes/cmd/kubectl "$ld"
  write_stamp "$kube_dir" "$kube_version"
  report kubectl built "$t0" "$kube_version  $kube_dir/kubectl"
}

build_etcd() {
  local t0=$EPOCHREALTIME
  if is_built "$etcd_dir" etcd; then
    report etcd cached "$t0" "$etcd_version  $etcd_dir/etcd"
    return
  fi
  begin_part "$etcd_dir"
  # etcd's version number is a constant in its source; only the commit is
  # left to the build, and a module build has none to give.
  go_build "$here/go/etcd" "$etcd_dir/etcd" go.etcd.io/etcd/server/v3 \
    "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version"
  write_stamp "$etcd_dir" "$etcd_version"
  report etcd built "$t0" "$etcd_version  $etcd_dir/etcd"
}

build_helm() {
  local t0=$EPOCHREALTIME
  if is_built "$helm_dir" helm; then
    report helm cached "$t0" "$helm_version  $helm_dir/helm"
    return
  fi
  begin_part "$helm_dir"
  local v=helm.sh/helm/v4/internal/version
  go_build "$here/go/helm" "$helm_dir/helm" helm.sh/helm/v4/cmd/helm \
    "-s -w -X $v.version=$helm_version -X $v.metadata= -X $v.gitTreeState=clean"
  write_stamp "$helm_dir" "$helm_version"
  report helm built "$t0" "$helm_version  $helm_dir/helm"
}

build_venv() {
  local t0=$EPOCHREALTIME
  if is_built "$venv_dir" bin/moto_server bin/aws; then
    report moto+awscli cached "$t0" "moto $moto_version, awscli $awscli_version  $venv_dir"
    return
  fi
  # A venv records its own path in its scripts, so it cannot be built under a
  # temporary name and moved; it is built in place and only the stamp,
  # written last, makes it count.
  rm -rf "$venv_dir"
  mkdir -p "$parts_dir"
  python3 -m venv "$venv_dir" || die "python3 -m venv $venv_dir failed"
  PIP_CACHE_DIR="$cache/pip" "$venv_dir/bin/python" -m pip install --quiet --no-input \
    --disable-pip-version-check -r "$here/requirements.lock" ||
    die "pip install -r tools/realparts/requirements.lock failed; the errors are above"
  [[ -x $venv_dir/bin/moto_server && -x $venv_dir/bin/aws ]] ||
    die "the venv has no bin/moto_server or bin/aws after pip install"
  write_stamp "$venv_dir" "moto $moto_version, awscli $awscli_version"
  report moto+awscli built "$t0" "moto $moto_version, awscli $awscli_version  $venv_dir"
}


# kube_ldflags: stamp the real release into k8s.io/kubernetes binaries (see build_kube).
kube_ldflags() {
  local minor=${kube_version#v1.}
  minor=${minor%%.*}
  local date
  date=$(module_time "$here/go/kube" k8s.io/kubernetes)
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z} -X $pkg.gitCommit="
  done
  printf '%s' "$ld"
}

kubenode_bins=(kubelet kube-controller-manager kube-scheduler kube-proxy)

# The node's Kubernetes binaries: a part of their own (not kube-apiserver's), so the API-server tiers
# never wait for them, but built from the same wrapper module and so from the same build cache.
build_kubenode() {
  local t0=$EPOCHREALTIME bin
  if is_built "$kubenode_dir" "${kubenode_bins[@]}"; then
    for bin in "${kubenode_bins[@]}"; do report "$bin" cached "$t0" "$kube_version  $kubenode_dir/$bin"; done
    return
  fi
  begin_part "$kubenode_dir"
  local ld
  ld=$(kube_ldflags)
  for bin in "${kubenode_bins[@]}"; do
    t0=$EPOCHREALTIME
    go_build "$here/go/kube" "$kubenode_dir/$bin" "k8s.io/kubernetes/cmd/$bin" "$ld"
    report "$bin" built "$t0" "$kube_version  $kubenode_dir/$bin"
  done
  write_stamp "$kubenode_dir" "$kube_version"
}

containerd_bins=(containerd containerd-shim-runc-v2 ctr)

build_containerd() {
  local t0=$EPOCHREALTIME bin
  if is_built "$containerd_dir" "${containerd_bins[@]}"; then
    report containerd cached "$t0" "$containerd_version  $containerd_dir"
    return
  fi
  begin_part "$containerd_dir"
  # Without cgo the btrfs, devmapper and zfs snapshotters cannot be built; the node uses overlayfs.
  local v=github.com/containerd/containerd/v2/version
  local ld="-s -w -X $v.Version=${containerd_version#v} -X $v.Revision=module"
  for bin in "${containerd_bins[@]}"; do
    go_build "$here/go/containerd" "$containerd_dir/$bin" "github.com/containerd/containerd/v2/cmd/$bin" "$ld" \
      -tags no_btrfs,no_devmapper,no_zfs
  done
  write_stamp "$containerd_dir" "$containerd_version"
  report containerd built "$t0" "$containerd_version  $containerd_dir (containerd, containerd-shim-runc-v2, ctr)"
}

cni_plugins=(ipam/host-local main/bridge main/loopback meta/portmap)

build_cni() {
  local t0=$EPOCHREALTIME p names=()
  for p in "${cni_plugins[@]}"; do names+=("${p#*/}"); done
  if is_built "$cni_dir" "${names[@]}"; then
    report cni-plugins cached "$t0" "$cni_version  $cni_dir"
    return
  fi
  begin_part "$cni_dir"
  local ld="-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$cni_version"
  for p in "${cni_plugins[@]}"; do
    go_build "$here/go/cni" "$cni_dir/${p#*/}" "github.com/containernetworking/plugins/plugins/$p" "$ld"
  done
  write_stamp "$cni_dir" "$cni_version"
  report cni-plugins built "$t0" "$cni_version  $cni_dir (${names[*]})"
}

# The sandbox image and the probe, each a static binary in a one-layer OCI archive for
# `ctr images import`: nothing is pulled, so the node never contacts a registry.
build_images() {
  local t0=$EPOCHREALTIME
  if is_built "$images_dir" pause probe ocipack && [[ -f $images_dir/pause.tar && -f $images_dir/probe.tar ]]; then
    report node-images cached "$t0" "$pause_image $probe_image"
    return
  fi
  begin_part "$images_dir"
  rm -f "$images_dir"/*.tar
  local bin
  for bin in pause probe ocipack; do
    go_build "$here/go/images" "$images_dir/$bin" "./$bin" "-s -w"
  done
  "$images_dir/ocipack" -o "$images_dir/pause.tar" -name "$pause_image" -user 65535:65535 \
    -entrypoint /pause "$images_dir/pause:/pause" || die "ocipack could not write pause.tar"
  # The probe runs as whatever user the pod asks for; the image names none.
  "$images_dir/ocipack" -o "$images_dir/probe.tar" -name "$probe_image" \
    -entrypoint /probe "$images_dir/probe:/probe" || die "ocipack could not write probe.tar"
  write_stamp "$images_dir" "${images_dir##*-}"
  report node-images built "$t0" "$pause_image $probe_image"
}

# runc needs cgo (its nsenter part is C) and libseccomp for seccomp profiles (RuntimeDefault). Both
# come from the distribution: as root (as CI runs) a missing compiler or libseccomp-dev is installed with
# apt-get; otherwise the script says what to install and the node tier skips.
require_cgo() {
  local missing=()
  command -v gcc >/dev/null 2>&1 || missing+=(gcc)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  pkg-config --exists libseccomp 2>/dev/null || missing+=(libseccomp-dev)
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    # A fresh CI image may have no package lists yet: update once, then retry.
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }; } ||
      die "apt-get install ${missing[*]} failed; the errors are above"
    return 0
  fi
  echo "realparts: runc needs ${missing[*]} (Debian: apt-get install ${missing[*]}); the node tier will skip" >&2
  return 1
}

build_runc() {
  local t0=$EPOCHREALTIME
  if ! is_built "$runc_dir" runc; then
    require_cgo || return 0
    runc_key_dir # require_cgo may have just installed libseccomp-dev, which changes the key
  fi
  if is_built "$runc_dir" runc; then
    report runc cached "$t0" "$runc_version  $runc_dir/runc"
    return
  fi
  begin_part "$runc_dir"
  CGO_ENABLED=1 go_build "$here/go/runc" "$runc_dir/runc" github.com/opencontainers/runc \
    "-s -w -X main.gitCommit=module" -tags seccomp
  write_stamp "$runc_dir" "$runc_version"
  report runc built "$t0" "$runc_version  $runc_dir/runc"
}

# ---------------------------------------------------------------- commands

# The names test tooling reads, in a fixed order.
emit_pairs() {
  local missing=()
  is_built "$kube_dir" kube-apiserver kubectl || missing+=(kube-apiserver/kubectl)
  is_built "$etcd_dir" etcd || missing+=(etcd)
  is_built "$helm_dir" helm || missing+=(helm)
  is_built "$venv_dir" bin/moto_server bin/aws || missing+=(moto+awscli)
  ((${#missing[@]} == 0)) ||
    die "not built yet: ${missing[*]}; run tools/realparts/build.sh first"
  pairs=(
    KIRSA_TOOLS_DIR "$cache"
    KIRSA_KUBE_APISERVER "$kube_dir/kube-apiserver"
    KIRSA_KUBECTL "$kube_dir/kubectl"
    KIRSA_ETCD "$etcd_dir/etcd"
    KIRSA_HELM "$helm_dir/helm"
    KIRSA_MOTO_SERVER "$venv_dir/bin/moto_server"
    KIRSA_AWS_CLI "$venv_dir/bin/aws"
    KIRSA_KUBE_VERSION "$kube_version"
    KIRSA_ETCD_VERSION "$etcd_version"
    KIRSA_HELM_VERSION "$helm_version"
    KIRSA_MOTO_VERSION "$moto_version"
  )
  # The node parts are printed only when all of them are there: the node tier then runs, and otherwise
  # skips (or fails, in CI) naming what is missing, while the API-server tiers are not held up.
  node_missing=()
  is_built "$kubenode_dir" "${kubenode_bins[@]}" || node_missing+=(kubelet/kube-controller-manager/kube-scheduler/kube-proxy)
  is_built "$containerd_dir" "${containerd_bins[@]}" || node_missing+=(containerd)
  is_built "$cni_dir" host-local bridge loopback portmap || node_missing+=(cni-plugins)
  is_built "$images_dir" pause probe ocipack || node_missing+=(node-images)
  is_built "$runc_dir" runc || node_missing+=(runc)
  if ((${#node_missing[@]} == 0)); then
    pairs+=(
      KIRSA_KUBELET "$kubenode_dir/kubelet"
      KIRSA_KUBE_CONTROLLER_MANAGER "$kubenode_dir/kube-controller-manager"
      KIRSA_KUBE_SCHEDULER "$kubenode_dir/kube-scheduler"
      KIRSA_KUBE_PROXY "$kubenode_dir/kube-proxy"
      KIRSA_CONTAINERD "$containerd_dir/containerd"
      KIRSA_CONTAINERD_SHIM "$containerd_dir/containerd-shim-runc-v2"
      KIRSA_CTR "$containerd_dir/ctr"
      KIRSA_CNI_BIN_DIR "$cni_dir"
      KIRSA_OCI_RUNTIME "$runc_dir/runc"
      KIRSA_PAUSE_IMAGE "$pause_image"
      KIRSA_PAUSE_ARCHIVE "$images_dir/pause.tar"
      KIRSA_PROBE_IMAGE "$probe_image"
      KIRSA_PROBE_ARCHIVE "$images_dir/probe.tar"
      KIRSA_OCIPACK "$images_dir/ocipack"
      KIRSA_CONTAINERD_VERSION "$containerd_version"
      KIRSA_CNI_VERSION "$cni_version"
      KIRSA_RUNC_VERSION "$runc_version"
    )
  else
    pairs+=(KIRSA_NODE_PARTS_MISSING "${node_missing[*]}")
  fi
}

print_env() {
  emit_pairs
  local i
  for ((i = 0; i < ${#pairs[@]}; i += 2)); do
    printf 'export %s=%q\n' "${pairs[i]}" "${pairs[i + 1]}"
  done
}

print_json() {
  emit_pairs
  python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[0::2], a[1::2])), indent=2))' "${pairs[@]}"
}

# in_use DIR: a running process was started from DIR (its command line names
# a path under it). Removing such a venv would break the process's later imports.
# The glob is expanded before grep starts, so grep never sees its own arguments.
in_use() {
  grep -qsaF -- "$1/" /proc/[0-9]*/cmdline
}

prune() {
  local d keep=("$kube_dir" "$etcd_dir" "$helm_dir" "$venv_dir" "$kubenode_dir" "$containerd_dir" "$cni_dir" "$images_dir" "$runc_dir")
  shopt -s nullglob
  for d in "$parts_dir"/*; do
    [[ " ${keep[*]} " == *" $d "* ]] && continue
    if in_use "$d"; then
      echo "realparts: keeping $d: a running process uses it"
      continue
    fi
    echo "realparts: removing $d"
    rm -rf "$d"
  done
}

build_all() {
  mkdir -p "$parts_dir"
  # One builder at a time per cache (two CI runs, or a developer and CI).
  exec 9>"$cache/.lock"
  if ! flock -n 9; then
    echo "realparts: another build.sh holds $cache/.lock; waiting for it" >&2
    flock 9
  fi
  build_etcd
  build_helm
  build_kube
  build_venv
  # The node tier's parts come after the API-server tiers' parts, so an interrupted cold build leaves
  # those usable first.
  build_cni
  build_images
  build_containerd
  build_runc
  build_kubenode
}

main() {
  local mode=${1:-build}
  case $mode in
  build | --print-env | --print-json | --prune) ;;
  --print-go-env)
    # Only Go is needed for this one: no Python, no part keys.
    require_go
    printf 'export %s=%q\n' KIRSA_TOOLS_DIR "$cache" GOMODCACHE "$GOMODCACHE" GOCACHE "$GOCACHE" \
      GOTOOLCHAIN "$GOTOOLCHAIN" GOWORK "$GOWORK" CGO_ENABLED "$CGO_ENABLED" GOFLAGS "$GOFLAGS"
    return
    ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    return
    ;;
  *) die "unknown argument '$mode' (try --help)" ;;
  esac
  require_go
  require_python
  compute_parts
  case $mode in
  build) build_all ;;
  --print-env) print_env ;;
  --print-json) print_json ;;
  --prune) prune ;;
  esac
}

main "$@"
