#!/usr/bin/env bash
# Installs PACKAGE.deb with dpkg into a scratch root, maintainer scripts
# included, as `apt install` would on a capture host, then purges it; prints
# what it saw. Run by check-deb.sh inside `unshare --mount`, as root: the
# scratch root is this machine's /usr under an overlay (writes land in the
# scratch directory), copies of /etc and of dpkg's database (so Depends are
# resolved against what is really installed here, no --force-depends), and
# /dev and /proc bound in. The mounts die with the namespace; the real /usr,
# /etc and /var/lib/dpkg are never written.
set -euo pipefail
deb=${1:?usage: scratch-install.sh PACKAGE.deb}
fail() { echo "scratch-install: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg --root chroots into the scratch root to run the maintainer scripts)"
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || fail "run me inside unshare --mount"
mount --make-rprivate /

dir=$(mktemp -d)
root=$dir/root
cleanup() {
	umount -R "$root/dev" "$root/proc" "$root/usr" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$root"/{usr,dev,proc,tmp,run,var/lib,var/log,var/cache} "$dir"/{upper,work}
chmod 1777 "$root/tmp"
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$dir/upper,workdir=$dir/work" "$root/usr"
for l in bin sbin lib lib64; do [ -L "/$l" ] && ln -s "$(readlink "/$l")" "$root/$l"; done
cp -a /etc "$root/etc"
cp -a /var/lib/dpkg "$root/var/lib/dpkg"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"

getent -s files passwd ptpcam >/dev/null && fail "this machine already has a ptpcam user: the postinst's adduser would not be tested"
out=$(dpkg --root="$root" --log=/dev/null -i "$deb" 2>&1) || fail "dpkg --root -i $deb: $out"
status=$(dpkg --root="$root" -s ptpcam | sed -n 's/^Status: //p')
[ "$status" = "install ok installed" ] || fail "dpkg -s ptpcam after install: '$status'"
user=$(grep '^ptpcam:' "$root/etc/passwd") || fail "postinst did not create the ptpcam user"
grep -q '^ptpcam:' "$root/etc/group" || fail "postinst did not create the ptpcam group"
echo "scratch-install: dpkg -i: $status; postinst created $user"
for f in /usr/bin/ptpcam_exporter /lib/systemd/system/ptpcam_exporter.service /etc/default/ptpcam_exporter; do
	[ -e "$root$f" ] || fail "installed package lacks $f"
done
wants=/etc/systemd/system/multi-user.target.wants/ptpcam_exporter.service
[ "$(readlink "$root$wants")" = /lib/systemd/system/ptpcam_exporter.service ] ||
	fail "postinst did not enable ptpcam_exporter.service ($wants: '$(readlink "$root$wants" || true)')"
echo "scratch-install: postinst enabled ptpcam_exporter.service ($wants)"
ver=$(chroot "$root" /usr/bin/ptpcam_exporter --version 2>&1) || fail "installed exporter --version: $ver"
echo "scratch-install: chroot: $(head -n 1 <<<"$ver")"
# The units as installed, verified where they lie (ExecStart's binaries
# exist in the root).
out=$(chroot "$root" systemd-analyze verify ptpcam_exporter.service camrecord@example.service 2>&1) ||
	fail "systemd-analyze verify in the scratch root: $out"
[ -z "$out" ] || fail "systemd-analyze verify in the scratch root warns: $out"
echo "scratch-install: systemd-analyze verify of the installed units: clean"

out=$(dpkg --root="$root" --log=/dev/null --purge ptpcam 2>&1) || fail "dpkg --root --purge ptpcam: $out"
for f in /usr/bin/ptpcam_exporter /lib/systemd/system/ptpcam_exporter.service /etc/default/ptpcam_exporter; do
	[ ! -e "$root$f" ] || fail "$f still there after purge"
done
status=$(dpkg --root="$root" -s ptpcam 2>/dev/null | sed -n 's/^Status: //p' || true)
[ -z "$status" ] || [ "$status" = "unknown ok not-installed" ] || fail "dpkg -s ptpcam after purge: '$status'"
[ ! -e "$root$wants" ] && [ ! -L "$root$wants" ] || fail "$wants still there after purge"
echo "scratch-install: dpkg --purge: files, conffiles and the enablement removed"
