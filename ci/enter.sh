#!/bin/sh
# <root>.enter COMMAND [ARG...]: runs COMMAND inside the Debian root beside
# this script (target/interpreters/roots/<root>/), installed there by
# ci/interpreters.sh.
#
# A private mount namespace, so every bind vanishes with the process and
# nothing is left mounted; a non-root user gets one inside a user namespace
# (mapped to root there) where the kernel allows it. Bound at their own
# paths: /proc /sys /dev /tmp and $TMPDIR (the supervisor's per-case
# TMPDIR), this checkout, the host's resolver and CA certificates, and the directories
# in REPRO_ENTER_BIND (colon-separated: the Rust toolchain, for builds).
# The working directory is kept; the process keeps its pid (exec all the
# way), so the supervisor and /proc see the interpreter itself.
#
# Every case run on a provisioned interpreter starts here, so it runs as
# few programs as it can (shell built-ins where they do; 21 -> 14 ms of CPU
# for `enter true`): no mkdir once a mount point exists, and no second bind
# of anything under /tmp (a per-case $TMPDIR, a checkout there), which the
# recursive bind of /tmp already brings.
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
name=${0##*/}
root="$here/${name%.enter}"
project=$(cd "$here/../../.." && pwd)
[ -f "$root/.repro-root" ] || { echo "$0: $root is not a complete root (make interpreters)" >&2; exit 127; }
# The real uid, from /proc (`id -u` would be one more program).
while read -r key uid _; do [ "$key" = Uid: ] && break; done </proc/self/status
user=
[ "$uid" = 0 ] || user="--user --map-root-user"
# shellcheck disable=SC2086
exec unshare $user --mount --propagation private -- /bin/sh -c '
r=$1; project=$2; shift 2
IFS=:
for d in /proc /sys /dev /tmp "$project" "${TMPDIR:-}" $REPRO_ENTER_BIND; do
  case $d in ""|/tmp/*) continue ;; esac
  [ -d "$r$d" ] || mkdir -p "$r$d" 2>/dev/null
  mount --rbind "$d" "$r$d" || { echo "enter: cannot bind $d into $r" >&2; exit 127; }
done
# The network as the host has it: its resolver and the certificates it
# trusts (a package index behind a proxy with its own CA).
for f in /etc/resolv.conf /etc/ssl/certs; do
  [ -e "$f" ] && [ -e "$r$f" ] && mount --bind "$f" "$r$f"
done
# chroot lives in sbin, which a non-root PATH may lack; the command keeps
# the PATH it was given.
c=$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot) || { echo "enter: chroot not found" >&2; exit 127; }
exec "$c" "$r" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$PWD" "$@"
' enter "$root" "$project" "$@"
