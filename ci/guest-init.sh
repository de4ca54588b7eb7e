#!/bin/busybox sh
# /init of the kernel canary's guest (ci/kernels.sh puts it in each
# kernel's initramfs; `repro kernels` boots it under QEMU).
#
# The host's root, shared read-only over 9p (tag hostroot), becomes the
# guest's root under an overlay whose upper layer is RAM: the guest sees
# this machine's files at their own paths (the checkout, its target/, the
# interpreters) and can write anywhere without touching the host. The one
# writable share (tag out) is mounted at the path the host gave as
# repro.out=, inside that root, so a path means the same on both sides. The
# guest runs repro.out/job.sh there, writes its exit status to
# repro.out/exit, and powers off. Progress goes to the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "repro-guest: $*" >/dev/console; }
fail() { say "error: $*"; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
out=$(sed -n 's/.*repro\.out=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$out" ] || fail "no repro.out= on the kernel command line"

# The modules ci/kernels.sh copied (none where they are built in).
for m in $(cat /lib/modules/order 2>/dev/null); do
  insmod "/lib/modules/$m" 2>/dev/null || say "insmod $m failed"
done

mkdir -p /host /ram /new
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,cache=loose,ro" hostroot /host || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=755 ram /ram
mkdir -p /ram/upper /ram/work
mount -t overlay -o lowerdir=/host,upperdir=/ram/upper,workdir=/ram/work overlay /new \
  || fail "cannot mount the overlay root"
mkdir -p "/new$out"
mount -t 9p -o "$opts" out "/new$out" || fail "cannot mount the out share at $out"
mount -t proc proc /new/proc
mount -t sysfs sys /new/sys
mount -t devtmpfs dev /new/dev 2>/dev/null || mount --rbind /dev /new/dev
mkdir -p /new/dev/pts /new/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /new/dev/pts
mount -t tmpfs -o mode=1777 shm /new/dev/shm
mount -t cgroup2 cgroup2 /new/sys/fs/cgroup 2>/dev/null
# The aiohttp cases serve on 127.0.0.1: the loopback interface must be up.
ip link set lo up || fail "cannot bring loopback up"
hostname repro-guest

say "up: $(uname -r), root shared"
: >"/new$out/booted"
chroot /new /bin/sh "$out/job.sh" >"/new$out/job.log" 2>&1
echo $? >"/new$out/exit"
sync
say "job exited $(cat "/new$out/exit")"
poweroff -f
