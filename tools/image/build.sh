#!/usr/bin/env bash
# Build the kirsa image from the repository's Dockerfile with no Docker daemon and no image registry, and
# cache it like the real parts, for test/image/image.test.ts:
#   1. a local Node 24 base image, made from Debian packages (apt-get download, the machine's own apt
#      sources), the project's Node 24 binary (the `node` npm package under node_modules) and npm from the
#      npm registry: the same layout as the official node:24 slim image (node, npm and npx in
#      /usr/local/bin, a shell, coreutils)
#   2. the SAME Dockerfile users build, on that base (--build-arg NODE_IMAGE), with buildah in chroot
#      isolation (no daemon, no user namespace)
#   3. the result as an OCI image layout, and unpacked by umoci into a runtime bundle (rootfs/ and the
#      config.json derived from the image's config) that a test runs with runc
#   4. the s3-echoer example's image (examples/s3-echoer/Dockerfile, as users build it) on the same base,
#      as an OCI layout, for the node tier (test/node/) to run as a Job
#
# Usage:
#   tools/image/build.sh               build whatever is missing, then stop
#   tools/image/build.sh --print-env   print `export KIRSA_IMAGE_...=...` lines (never builds; exit 1 if missing)
#   tools/image/build.sh --prune       delete cached images that are no longer current
#
# Needs root (buildah's chroot isolation and umoci keep the image's file owners) and buildah, umoci and
# runc. Run as root, it installs those three with apt-get when they are missing (CI runs as root);
# otherwise it names the command to run.
#
# Cache: ${KIRSA_TOOLS_DIR:-$HOME/.cache/kirsa-tools}/image, beside the real parts:
#   storage/ runroot/   buildah's image store (overlay) and its run state: build layers are reused, so
#                       an edit to src/ rebuilds from `COPY src` on, not `npm ci`
#   downloads/          the .deb files and the npm tarball
#   base-<key>/         stamp of the local base image (localhost/kirsa-image-base:<key> in the store);
#                       <key> hashes the node binary, the npm version and the resolved Debian packages
#   kirsa-<key>/        oci/ (OCI layout, tag "kirsa"), bundle/ (umoci unpack), build.log, stamp;
#                       <key> hashes the base key and what the Dockerfile copies from the context
#                       (tools/image/context-key.ts)
#   s3-echoer-<key>/    oci/ (tag "s3-echoer"), build.log, stamp; <key> hashes the base key and the
#                       example's Dockerfile and s3-echoer.ts
# A part counts only when its stamp names its key; the stamp is written last.
set -euo pipefail

# Bump when a change to this script must rebuild everything.
SCRIPT_VERSION=1

# npm for the local base (the official node:24 images bring their own); the integrity is the registry's.
NPM_VERSION=11.19.1
NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==

# What a Debian slim image gives Node and the Dockerfile: glibc, libstdc++ and libgcc for node, dash as
# /bin/sh for RUN lines, coreutils for `rm`, `ln` and `/usr/bin/env` (npm's and kirsa's shebangs), and their
# libraries. base-files brings /etc/os-release and the FHS folders.
DEBIAN_PACKAGES=(base-files libc6 libgcc-s1 gcc-12-base libstdc++6 dash coreutils
  libacl1 libattr1 libgmp10 libpcre2-8-0 libselinux1)

# The builder, the unpacker and the runtime, as Debian packages. runc rather than crun: Debian 12's crun
# (1.8) refuses to start anything on a host that mixes cgroup v1 and v2, as these machines do.
TOOL_PACKAGES=(buildah umoci runc)

# How many built images (kirsa-<key>/, about 370 MB each) stay in the cache: every worktree or branch with
# other sources builds its own, and a test run may still be reading an older one.
KEEP_IMAGES=4

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${KIRSA_TOOLS_DIR:-$HOME/.cache/kirsa-tools}
dir="$cache/image"

die() {
  echo "image: $*" >&2
  exit 1
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

report() { # PART STATE START DETAIL
  printf 'image: %-15s %-6s in %7s  %s\n' "$1" "$2" "$(elapsed "$3")" "$4"
}

# ---------------------------------------------------------------- requirements

require_tools() {
  local missing=() t
  for t in "${TOOL_PACKAGES[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  ((${#missing[@]} == 0)) && return
  if ((EUID != 0)); then
    die "missing ${missing[*]}: install them (Debian: sudo apt-get install --no-install-recommends ${TOOL_PACKAGES[*]})"
  fi
  local t0=$EPOCHREALTIME
  echo "image: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists do not know the packages yet (a fresh machine).
  apt-cache show "${missing[@]}" >/dev/null 2>&1 || apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${TOOL_PACKAGES[@]}" >&2 ||
    die "apt-get install ${TOOL_PACKAGES[*]} failed; the errors are above"
  report tools installed "$t0" "${TOOL_PACKAGES[*]}"
}

require_root() {
  ((EUID == 0)) ||
    die "needs root: buildah's chroot isolation and umoci keep the image's file owners (CI runs as root); run it with sudo"
}

require_node() {
  node_bin=${KIRSA_IMAGE_NODE:-$repo/node_modules/node/bin/node}
  [[ -x $node_bin ]] ||
    die "no Node 24 binary at $node_bin: run npm ci first (the node package brings it), or set KIRSA_IMAGE_NODE"
  node_version=$("$node_bin" --version)
  [[ $node_version == v24.* ]] || die "$node_bin is $node_version, not Node 24"
}

# ---------------------------------------------------------------- keys

short() { sha256sum | cut -c1-16; }

# memo KEY COMMAND...: COMMAND's output, remembered under KEY. It saves the seconds that resolving the
# Debian packages and hashing the 120 MB node binary take on every warm run; each KEY names all the
# command depends on.
memo() {
  local file
  file="$dir/memo/$(printf '%s' "$1" | short)"
  shift
  if [[ ! -f $file ]]; then
    mkdir -p "$dir/memo"
    "$@" >"$file.tmp.$$" || { rm -f "$file.tmp.$$"; return 1; }
    mv -f "$file.tmp.$$" "$file"
  fi
  cat "$file"
}

compute_keys() {
  # The exact Debian package versions and files apt would fetch (no download): a point release or a
  # security update makes a new base.
  # apt's answer changes only with its package lists.
  local lists
  lists=$(stat -c '%n %s %Y' /var/lib/apt/lists/*Release 2>/dev/null || true)
  if ! deb_uris=$(memo "debs ${DEBIAN_PACKAGES[*]} $lists" apt-get download --print-uris "${DEBIAN_PACKAGES[@]}" 2>/dev/null); then
    # A machine whose package lists were never fetched (or were cleaned) knows no package yet.
    [[ $mode == build && $EUID == 0 ]] || die "apt-get cannot resolve ${DEBIAN_PACKAGES[*]}: run apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    lists=$(stat -c '%n %s %Y' /var/lib/apt/lists/*Release 2>/dev/null || true)
    deb_uris=$(memo "debs ${DEBIAN_PACKAGES[*]} $lists" apt-get download --print-uris "${DEBIAN_PACKAGES[@]}" 2>/dev/null) ||
      die "apt-get cannot resolve ${DEBIAN_PACKAGES[*]} even after apt-get update"
  fi
  node_sum=$(memo "sha256 $(stat -L -c '%n %s %Y %i' "$node_bin")" sha256sum "$node_bin" | cut -d' ' -f1)
  ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  [[ -r $ca_bundle ]] || die "no CA bundle at $ca_bundle for npm in the build: install ca-certificates or set SSL_CERT_FILE"
  ca_sum=$(sha256sum "$ca_bundle" | cut -d' ' -f1)
  base_key=$({
    printf 'image-base %s\n%s %s\nnpm %s %s\nca %s\n' "$SCRIPT_VERSION" "$node_version" "$node_sum" \
      "$NPM_VERSION" "$NPM_INTEGRITY" "$ca_sum"
    printf '%s\n' "$deb_uris" | awk '{ print $2, $4 }'
    sed -n '/^build_base()/,/^}/p' "${BASH_SOURCE[0]}"
  } | short)
  base_ref="localhost/kirsa-image-base:$base_key"
  base_dir="$dir/base-$base_key"
  context_key=$("$node_bin" "$here/context-key.ts" "$repo") || die "tools/image/context-key.ts failed"
  image_key=$(printf 'image %s\n%s\n%s\n' "$SCRIPT_VERSION" "$base_key" "$context_key" | short)
  image_ref="localhost/kirsa:$image_key"
  image_dir="$dir/kirsa-$image_key"
  echoer_key=$({
    printf 'image-s3-echoer %s\n%s\n' "$SCRIPT_VERSION" "$base_key"
    cat "$repo/examples/s3-echoer/Dockerfile" "$repo/examples/s3-echoer/s3-echoer.ts"
  } | short)
  echoer_ref="localhost/s3-echoer:$echoer_key"
  echoer_dir="$dir/s3-echoer-$echoer_key"
}

is_built() { # DIR
  [[ -f $1/stamp ]] && [[ $(sed -n 's/^key=//p' "$1/stamp") == "${1##*-}" ]]
}

write_stamp() { # DIR DETAIL
  printf 'key=%s\n%s\nbuilt=%s\n' "${1##*-}" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$1/stamp.tmp.$$"
  mv -f "$1/stamp.tmp.$$" "$1/stamp"
}

# buildah with its store in the cache folder, never the machine's default one.
bh() {
  buildah --root "$dir/storage" --runroot "$dir/runroot" --storage-driver overlay "$@"
}

# ---------------------------------------------------------------- builders

fetch_npm() {
  npm_tgz="$dir/downloads/npm-$NPM_VERSION.tgz"
  if [[ ! -f $npm_tgz ]]; then
    local tmp
    tmp=$(mktemp -d "$dir/downloads/npm.XXXXXX")
    (cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || die "npm pack npm@$NPM_VERSION failed"
    mv -f "$tmp/npm-$NPM_VERSION.tgz" "$npm_tgz"
    rmdir "$tmp"
  fi
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$npm_tgz" | base64 -w0)"
  if [[ $got != "$NPM_INTEGRITY" ]]; then
    rm -f "$npm_tgz"
    die "npm-$NPM_VERSION.tgz has integrity $got, expected $NPM_INTEGRITY"
  fi
}

build_base() {
  local t0=$EPOCHREALTIME
  if is_built "$base_dir" && bh inspect --type image "$base_ref" >/dev/null 2>&1; then
    report base cached "$t0" "$base_ref"
    return
  fi
  mkdir -p "$base_dir" "$dir/downloads/debs"
  rm -f "$base_dir/stamp"
  (cd "$dir/downloads/debs" && apt-get download -qq -o APT::Sandbox::User=root "${DEBIAN_PACKAGES[@]}" >&2) ||
    die "apt-get download ${DEBIAN_PACKAGES[*]} failed"
  fetch_npm

  local rootfs="$base_dir/rootfs" deb name
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  while read -r _ name _; do
    deb="$dir/downloads/debs/$name"
    [[ -f $deb ]] || die "apt-get download left no $name"
    dpkg-deb -x "$deb" "$rootfs"
  done <<<"$deb_uris"
  # What the packages' maintainer scripts and base-passwd would have made.
  ln -sf dash "$rootfs/bin/sh"
  mkdir -p "$rootfs/root" "$rootfs/tmp" "$rootfs/home/nonroot" "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules/npm"
  chmod 700 "$rootfs/root"
  chmod 1777 "$rootfs/tmp"
  chown 65532:65532 "$rootfs/home/nonroot"
  printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  # Node and npm where the official image puts them.
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # npm's builtin config (the npmrc beside npm itself): trust the machine's CA bundle, since an egress proxy
  # may sign the registry's certificate with its own CA, as on the machines this project is tested on. Both
  # files live inside npm's folder, so the Dockerfile's runtime stage removes them with npm.
  install -m 0644 "$ca_bundle" "$rootfs/usr/local/lib/node_modules/npm/kirsa-build-ca.crt"
  printf 'cafile=/usr/local/lib/node_modules/npm/kirsa-build-ca.crt\nupdate-notifier=false\n' \
    >"$rootfs/usr/local/lib/node_modules/npm/npmrc"

  local tarball="$base_dir/rootfs.tar" ctr
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$tarball" .
  ctr=$(bh from --quiet scratch)
  bh add --quiet "$ctr" "$tarball" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env "NODE_VERSION=${node_version#v}" --cmd node \
    --label "org.opencontainers.image.description=kirsa test base: Debian packages, Node $node_version, npm $NPM_VERSION" "$ctr"
  bh commit --quiet --rm "$ctr" "$base_ref" >/dev/null
  rm -rf "$rootfs" "$tarball"
  write_stamp "$base_dir" "node=$node_version"$'\n'"npm=$NPM_VERSION"
  report base built "$t0" "$base_ref (node $node_version, npm $NPM_VERSION)"
}

# Older bases leave the store, and their stamps the cache: nothing builds on them any more. (Apart from
# build_base, whose text is part of the base's key.)
drop_old_bases() {
  local old
  for old in $(bh images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep '^localhost/kirsa-image-base:' || true); do
    [[ $old == "$base_ref" ]] && continue
    bh rmi "$old" >/dev/null 2>&1 || true
    rm -rf "$dir/base-${old##*:}"
  done
}

# oci_build NAME REF OUT DOCKERFILE CONTEXT [BUILD-ARG...]: buildah builds DOCKERFILE on the local base as
# REF and writes it to OUT/oci, an OCI layout tagged NAME; OUT/build.log keeps what the build printed.
oci_build() {
  local name=$1 ref=$2 out=$3 dockerfile=$4 context=$5 arg
  shift 5
  local args=(--build-arg "NODE_IMAGE=$base_ref")
  for arg in "$@"; do args+=(--build-arg "$arg"); done
  rm -rf "$out"
  mkdir -p "$out"
  if ! bh build --quiet --isolation chroot --layers --pull=never "${args[@]}" \
    -f "$dockerfile" -t "$ref" "$context" >"$out/build.log" 2>&1; then
    tail -30 "$out/build.log" >&2
    die "buildah build of $name failed; the log is $out/build.log"
  fi
  bh push --quiet "$ref" "oci:$out/oci:$name" >>"$out/build.log" 2>&1 ||
    die "buildah push of $name to an OCI layout failed; see $out/build.log"
}

# keep_current NAME REF: of the localhost/NAME images only REF keeps its tag (older ones become dangling
# and leave with --prune), and of the NAME-<key> folders only the newest KEEP_IMAGES stay.
keep_current() {
  local name=$1 ref=$2 old stale
  for old in $(bh images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep "^localhost/$name:" || true); do
    [[ $old == "$ref" ]] || bh rmi "$old" >/dev/null 2>&1 || true
  done
  for stale in $(ls -1dt "$dir/$name"-* 2>/dev/null | tail -n +$((KEEP_IMAGES + 1))); do
    rm -rf "$stale"
  done
}

build_image() {
  local t0=$EPOCHREALTIME
  if is_built "$image_dir" && [[ -f $image_dir/bundle/config.json ]]; then
    report kirsa cached "$t0" "$image_dir"
    return
  fi
  local version revision
  version=$("$node_bin" -p 'require(process.argv[1]).version' "$repo/package.json")
  revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || true)
  oci_build kirsa "$image_ref" "$image_dir" "$repo/Dockerfile" "$repo" "VERSION=$version" "REVISION=$revision"
  umoci unpack --image "$image_dir/oci:kirsa" "$image_dir/bundle" >>"$image_dir/build.log" 2>&1 ||
    die "umoci unpack failed; see $image_dir/build.log"
  write_stamp "$image_dir" "ref=$image_ref"$'\n'"version=$version"$'\n'"revision=$revision"
  keep_current kirsa "$image_ref"
  report kirsa built "$t0" "$image_ref  $image_dir ($(image_size) compressed)"
}

# The example Job's image, built from its own Dockerfile exactly as its README tells users to.
build_echoer() {
  local t0=$EPOCHREALTIME
  if is_built "$echoer_dir" && [[ -f $echoer_dir/oci/index.json ]]; then
    report s3-echoer cached "$t0" "$echoer_dir"
    return
  fi
  oci_build s3-echoer "$echoer_ref" "$echoer_dir" "$repo/examples/s3-echoer/Dockerfile" "$repo/examples/s3-echoer"
  write_stamp "$echoer_dir" "ref=$echoer_ref"
  keep_current s3-echoer "$echoer_ref"
  report s3-echoer built "$t0" "$echoer_ref  $echoer_dir"
}

# The compressed size of the layers, as a registry would store them.
image_size() {
  "$node_bin" -e '
    const fs = require("fs"), path = require("path"), dir = process.argv[1];
    const blob = (d) => JSON.parse(fs.readFileSync(path.join(dir, "blobs", ...d.split(":"))));
    const manifest = blob(JSON.parse(fs.readFileSync(path.join(dir, "index.json"))).manifests[0].digest);
    const bytes = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    console.log((bytes / 1048576).toFixed(1) + " MiB");' "$image_dir/oci"
}

# ---------------------------------------------------------------- commands

print_env() {
  is_built "$image_dir" && [[ -f $image_dir/bundle/config.json ]] ||
    die "the image for this checkout is not built yet; run tools/image/build.sh first"
  printf 'export KIRSA_IMAGE_OCI=%q\n' "$image_dir/oci"
  printf 'export KIRSA_IMAGE_BUNDLE=%q\n' "$image_dir/bundle"
  printf 'export KIRSA_IMAGE_REF=%q\n' "$image_ref"
  if is_built "$echoer_dir" && [[ -f $echoer_dir/oci/index.json ]]; then
    printf 'export KIRSA_S3_ECHOER_OCI=%q\n' "$echoer_dir/oci"
  fi
}

prune() {
  local d
  shopt -s nullglob
  for d in "$dir"/base-* "$dir"/kirsa-* "$dir"/s3-echoer-*; do
    [[ $d == "$base_dir" || $d == "$image_dir" || $d == "$echoer_dir" ]] && continue
    echo "image: removing $d"
    rm -rf "$d"
  done
  bh rmi --prune >/dev/null 2>&1 || true
}

build_all() {
  mkdir -p "$dir"
  exec 8>"$dir/.lock"
  if ! flock -n 8; then
    echo "image: another build.sh holds $dir/.lock; waiting for it" >&2
    flock 8
  fi
  # The run state (mount counts, locks) describes this boot only; after a reboot it would claim layers
  # are still mounted, so it starts afresh.
  local boot
  boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)
  if [[ $(cat "$dir/runroot/.boot-id" 2>/dev/null || true) != "$boot" ]]; then
    rm -rf "$dir/runroot"
    mkdir -p "$dir/runroot"
    printf '%s\n' "$boot" >"$dir/runroot/.boot-id"
  fi
  build_base
  drop_old_bases
  build_image
  build_echoer
}

main() {
  mode=${1:-build}
  case $mode in
  build | --print-env | --prune) ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    return
    ;;
  *) die "unknown argument '$mode' (try --help)" ;;
  esac
  require_node
  if [[ $mode == build ]]; then
    require_root
    require_tools
  fi
  compute_keys
  case $mode in
  build) build_all ;;
  --print-env) print_env ;;
  --prune) prune ;;
  esac
}

main "$@"
