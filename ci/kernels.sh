#!/usr/bin/env bash
# ci/kernels.sh: bring Linux kernels onto this machine for the kernel
# canary (`make canary-kernels`, `repro kernels`), each ready to boot under
# QEMU. Cached under target/kernels/; idempotent (seconds when cached); the
# kernel packages are downloaded and unpacked there, never installed.
#
#   ci/kernels.sh                   the default lines (below)
#   ci/kernels.sh --kernel SPEC     instead, these (repeatable), where SPEC is
#       a line name          bullseye-5.10 bookworm-6.1 bookworm-6.1-rt
#                            trixie-6.12 sid-7 (the newest of that line)
#       a Debian package     linux-image-6.1.0-41-amd64 (that exact one)
#       a .deb file          ./linux-image-....deb (its linux-binary-/
#                            linux-modules- .debs beside it, if it is a meta)
#       a kernel image       /path/bzImage[:/path/to/modules-root] where the
#                            modules root holds lib/modules/<release>/ (as
#                            `make modules_install INSTALL_MOD_PATH=...`
#                            leaves it); without it, virtio, 9p and overlay
#                            must be built in
#   ci/kernels.sh --list            print the ready kernels' directories
#
# Each kernel: target/kernels/<release>/ with vmlinuz, initramfs.img (static
# busybox, the modules the guest needs, ci/guest-init.sh as /init), release
# (its `uname -r`), line and source (what it came from), and the stamp
# .repro-kernel, written last. target/kernels/ready lists them, one
# directory a line, in the order asked; `repro kernels` boots those.
#
# Host packages it installs when missing (root): qemu-system-x86 (to boot),
# kmod (depmod, modprobe: the modules' dependencies), cpio (the initramfs).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'kernels: %s\n' "$*" >&2; }
die() { printf 'kernels: error: %s\n' "$*" >&2; exit 1; }

default_lines="bullseye-5.10 bookworm-6.1 bookworm-6.1-rt trixie-6.12 sid-7"
specs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) [ $# -ge 2 ] || die "--kernel needs a value"; specs+=("$2"); shift 2 ;;
    --kernel=*) specs+=("${1#--kernel=}"); shift ;;
    --list) cat target/kernels/ready 2>/dev/null; exit 0 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) die "unknown option $1 (valid: --kernel SPEC, --list)" ;;
  esac
done
[ ${#specs[@]} -gt 0 ] || read -r -a specs <<<"$default_lines"

# What the host needs: a Debian package for each missing command.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
PATH="$PATH:/usr/sbin:/sbin" command -v depmod >/dev/null || need+=(kmod)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages ${need[*]} (as root: apt-get install ${need[*]})"
  say "installing ${need[*]} (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "could not install ${need[*]} (apt-get install ${need[*]})"
fi
export PATH="$PATH:/usr/sbin:/sbin"

cache=target/kernels
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
trap 'say "interrupted: what was complete is kept, the rest is redone next time"; rm -rf "$cache"/*.partial; exit 130' INT TERM

# A private apt configuration over every suite a default line comes from:
# the host's own apt state and sources are never touched. The mirror:
# REPRO_DEBIAN_MIRROR, else the one this machine's apt uses; the security
# archive: REPRO_DEBIAN_SECURITY_MIRROR, else the host's, else Debian's.
apt_dir="$cache/apt"
mirror="${REPRO_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' \
  'Created-By: Packages' 2>/dev/null | awk '$2 !~ /-security$/ {print $1; exit}')}"
security="${REPRO_DEBIAN_SECURITY_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' \
  'Created-By: Packages' 2>/dev/null | awk '$2 ~ /-security$/ {print $1; exit}')}"
security="${security:-http://deb.debian.org/debian-security/}"
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o Dir::State::status=/dev/null -o Acquire::Check-Valid-Until=false
  -o APT::Architecture=amd64 -o Acquire::Languages=none -o Debug::NoLocking=1)
# Only the suites the asked lines come from (a package name or a .deb may
# come from any).
suites=
for s in "${specs[@]}"; do
  case "$s" in
    bullseye-*|bookworm-*|trixie-*|sid-*) suite=${s%%-*} ;;
    *) suite="bullseye bookworm trixie sid" ;;
  esac
  for x in $suite; do case " $suites " in *" $x "*) ;; *) suites="$suites $x" ;; esac; done
done
suites=${suites# }
security_suites=$(for x in $suites; do [ "$x" = sid ] || printf '%s-security ' "$x"; done)
apt_ready=0
apt_update() {
  [ "$apt_ready" = 1 ] && return 0
  [ -n "$mirror" ] || die "no Debian mirror: this machine's apt sources name none; set REPRO_DEBIAN_MIRROR"
  mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  local sources
  sources="Types: deb
URIs: $mirror
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
  [ -n "$security_suites" ] && sources="$sources
Types: deb
URIs: $security
Suites: ${security_suites% }
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
  # The package lists: again when the suites change, else at most once a day.
  if [ "$(cat "$apt_dir/sources/kernels.sources" 2>/dev/null)" != "$(printf %s "$sources")" ] \
      || [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    printf '%s' "$sources" >"$apt_dir/sources/kernels.sources"
    say "package lists of $suites (up to 20 s)..."
    apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 \
      || { tail -n 5 "$apt_dir/update.log" >&2; die "apt-get update failed (log: $apt_dir/update.log)"; }
  fi
  apt_ready=1
}
# download PKG... into the current directory.
download() {
  apt-get "${apt_opts[@]}" download "$@" >"$apt_dir/download.log" 2>&1 \
    || { tail -n 3 "$apt_dir/download.log" >&2; die "apt-get download $* failed"; }
}

# The static busybox the initramfs is made of (a .deb, unpacked here).
busybox="$cache/busybox/bin/busybox"
if [ ! -x "$busybox" ]; then
  apt_update
  rm -rf "$cache/busybox.partial" && mkdir -p "$cache/busybox.partial"
  (cd "$cache/busybox.partial" && download busybox-static \
    && dpkg -x busybox-static_*.deb . && rm -f ./*.deb)
  mv "$cache/busybox.partial" "$cache/busybox"
fi

# The newest package of a line: its image package's name.
line_package() {
  local re
  case "$1" in
    bullseye-5.10) re='^linux-image-5\.10\.0-[0-9]+-amd64$' ;;
    bookworm-6.1) re='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    bookworm-6.1-rt) re='^linux-image-6\.1\.0-[0-9]+-rt-amd64$' ;;
    trixie-6.12) re='^linux-image-6\.12\.[0-9]+\+deb13(\.[0-9]+)?-amd64$' ;;
    sid-7) re='^linux-image-7\.[0-9.]+\+deb14-amd64$' ;;
    *) return 1 ;;
  esac
  apt_update
  apt-cache "${apt_opts[@]}" search --names-only "$re" | awk '{print $1}' | sort -V | tail -n 1
}

# unpack DEB... DIR: the kernel's files, from the image package (or, where
# it is a meta package, from its linux-binary- and linux-modules- packages).
unpack() {
  local dir=${*: -1} deb
  for deb in "${@:1:$#-1}"; do dpkg -x "$deb" "$dir/pkg"; done
}

# Fetch a Debian kernel package by name into DIR/pkg.
fetch_package() {
  local pkg=$1 dir=$2
  apt_update
  local deps
  deps=$(apt-cache "${apt_opts[@]}" show "$pkg" 2>/dev/null | sed -n 's/^Depends: //p' | head -n 1 \
    | tr ',' '\n' | sed -n 's/^ *\(linux-\(binary\|modules\)-[^ ]*\).*/\1/p') \
    || true
  [ -n "$(apt-cache "${apt_opts[@]}" show "$pkg" 2>/dev/null | head -n 1)" ] \
    || die "no Debian package $pkg in $suites"
  (cd "$dir" && download "$pkg" $deps) || exit 1
  unpack "$dir"/*.deb "$dir"
  rm -f "$dir"/*.deb
}

# The guest's modules: those the hand-made guest loads (virtio PCI, 9p over
# virtio, overlay), in load order, xz/zstd-decompressed into the initramfs.
initramfs() {
  local dir=$1 release=$2 base=$3
  local ir="$dir/initramfs"
  rm -rf "$ir" && mkdir -p "$ir/bin" "$ir/lib/modules" "$ir/proc" "$ir/sys" "$ir/dev"
  cp "$busybox" "$ir/bin/busybox"
  install -m 755 ci/guest-init.sh "$ir/init"
  : >"$ir/lib/modules/order"
  if [ -n "$base" ] && [ -d "$base/lib/modules/$release" ]; then
    depmod -b "$base" "$release" 2>/dev/null || die "depmod failed for $release"
    local n=0 m
    while read -r verb m _; do
      [ "$verb" = insmod ] || continue
      n=$((n + 1))
      local out
      out="$ir/lib/modules/$(printf '%02d' $n)-$(basename "$m" | sed 's/\.ko.*$//').ko"
      case "$m" in
        *.xz) xz -dc "$m" >"$out" ;;
        *.zst) zstd -qdc "$m" >"$out" ;;
        *.gz) gzip -dc "$m" >"$out" ;;
        *) cp "$m" "$out" ;;
      esac
      grep -qxF "$(basename "$out")" "$ir/lib/modules/order" || basename "$out" >>"$ir/lib/modules/order"
    done < <(modprobe -a -d "$base" -S "$release" --show-depends virtio_pci 9pnet_virtio 9p overlay 2>/dev/null \
      | awk '!seen[$0]++')
  fi
  (cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$dir/initramfs.img"
  rm -rf "$ir"
}

# prepare SPEC: target/kernels/<release>/, unless it is ready already.
ready=()
prepare() {
  local spec=$1 line=custom pkg= image= modroot= debs=()
  case "$spec" in
    *.deb)
      [ -f "$spec" ] || die "no such file: $spec"
      debs=("$spec")
      # A meta image package: its linux-binary- and -modules- .debs beside it.
      local d; for d in "$(dirname "$spec")"/linux-{binary,modules}-*.deb; do [ -f "$d" ] && debs+=("$d"); done
      ;;
    /*|./*|../*)
      image=${spec%%:*}; [ "$image" != "$spec" ] && modroot=${spec#*:}
      [ -f "$image" ] || die "no such kernel image: $image"
      [ -z "$modroot" ] || [ -d "$modroot/lib/modules" ] || die "no lib/modules/ under $modroot"
      ;;
    linux-*) pkg=$spec ;;
    *)
      line=$spec
      pkg=$(line_package "$spec") || die "unknown kernel line $spec (valid: $default_lines, a package, a .deb, or an image path)"
      [ -n "$pkg" ] || die "no package for the line $spec in the archive"
      ;;
  esac
  # Cached: a line's newest package, or the same package, already ready.
  local known
  for known in "$cache"/*/.repro-kernel; do
    [ -f "$known" ] || continue
    if [ -n "$pkg" ] && grep -qxF "package $pkg" "$known"; then
      say "$spec: cached ($(dirname "$known"))"
      ready+=("$(dirname "$known")")
      return 0
    fi
  done
  local tmp="$cache/new.partial"
  rm -rf "$tmp" && mkdir -p "$tmp/pkg"
  if [ -n "$pkg" ]; then
    say "$spec: downloading $pkg..."
    fetch_package "$pkg" "$tmp"
  elif [ ${#debs[@]} -gt 0 ]; then
    unpack "${debs[@]}" "$tmp"
  fi
  local release base=
  if [ -z "$image" ]; then
    # /boot/vmlinuz-<release>, or (sid's 7.x) /usr/lib/modules/<release>/vmlinuz.
    image=$({ ls "$tmp"/pkg/boot/vmlinuz-* "$tmp"/pkg/usr/lib/modules/*/vmlinuz 2>/dev/null || true; } | head -n 1)
    [ -n "$image" ] || die "$spec: no vmlinuz in the package"
    case "$image" in
      */vmlinuz-*) release=${image##*/vmlinuz-} ;;
      *) release=$(basename "$(dirname "$image")") ;;
    esac
    base="$tmp/pkg"
    [ -d "$base/lib/modules/$release" ] || base="$tmp/pkg/usr"
  else
    # A self-built image: its release from its modules, else from the image.
    release=$( [ -n "$modroot" ] && ls "$modroot/lib/modules" | head -n 1 )
    [ -n "$release" ] || release=$(strings "$image" 2>/dev/null | sed -n 's/^\([0-9]\+\.[0-9]\+[^ ]*\) (.*/\1/p' | head -n 1)
    [ -n "$release" ] || die "$spec: cannot tell the kernel's release"
    if [ -n "$modroot" ]; then cp -a "$modroot/lib" "$tmp/pkg/"; base="$tmp/pkg"; fi
  fi
  local dir="$cache/$release"
  say "$spec: $release: initramfs..."
  initramfs "$tmp" "$release" "$base"
  cp "$image" "$tmp/vmlinuz"
  echo "$release" >"$tmp/release"
  echo "$line" >"$tmp/line"
  rm -rf "$tmp/pkg"
  printf 'package %s\nsource %s\nmade %s\n' "${pkg:-none}" "$spec" "$(date -u +%Y-%m-%d)" >"$tmp/.repro-kernel"
  rm -rf "$dir" && mv "$tmp" "$dir"
  say "$spec: ready: $dir ($(du -sh "$dir" | cut -f1))"
  ready+=("$dir")
}

for s in "${specs[@]}"; do prepare "$s"; done
printf '%s\n' "${ready[@]}" >"$cache/ready"
say "${#ready[@]} kernel(s) ready (target/kernels/ready)"
