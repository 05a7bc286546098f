#!/usr/bin/env bash
# Checks the Debian package `make deb` built, as a user installing it would:
# its metadata and contents, the systemd units (systemd-analyze verify, with
# the package unpacked into a scratch root so that ExecStart's binaries
# exist), and the installed exporter's --version. Prints what it checked;
# exits non-zero on the first problem.
set -euo pipefail
deb=${1:?usage: check-deb.sh PACKAGE.deb}
fail() { echo "check-deb: $*" >&2; exit 1; }
[ -f "$deb" ] || fail "$deb: no such package"

info=$(dpkg-deb --info "$deb")
depends=$(dpkg-deb --field "$deb" Depends)
for d in libaravis-0.8-0 linuxptp ffmpeg; do
	grep -qw "$d" <<<"$depends" || fail "Depends '$depends' lacks $d"
done
echo "check-deb: Depends: $depends"
grep -q "^ Package: ptpcam$" <<<"$info" || fail "not package ptpcam:\n$info"

contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/ptpcam_exporter ./usr/bin/ptpcamcheck ./usr/bin/camrecord \
	./lib/systemd/system/ptpcam_exporter.service ./lib/systemd/system/camrecord@.service \
	./etc/default/ptpcam_exporter ./etc/default/camrecord ./etc/ptpcam/camrecord-example.yaml \
	./usr/share/ptpcam/alerts/ptpcam.rules.yml ./usr/share/ptpcam/alerts/record.rules.yml \
	./usr/share/ptpcam/dashboards/ptpcam.json ./usr/share/ptpcam/dashboards/recorder.json \
	./usr/share/doc/ptpcam/examples/prometheus.yml ./usr/share/doc/ptpcam/copyright; do
	grep -q " $f\$" <<<"$contents" || fail "package lacks $f"
done
grep -E ' \./usr/bin/ptpcam_exporter$' <<<"$contents" | grep -q '^-rwxr-xr-x' || fail "ptpcam_exporter is not 0755"
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null || true)
for f in /etc/default/ptpcam_exporter /etc/default/camrecord; do
	grep -qx "$f" <<<"$conffiles" || fail "$f is not a conffile"
done
echo "check-deb: $(grep -c . <<<"$contents") entries: binaries, units, defaults (conffiles), rules, dashboards, examples"

# Install for real into a scratch root (dpkg --root, maintainer scripts
# included; see scratch-install.sh), then purge. Needs root: without it the
# check says so and goes on with the unpacked package only, and fails under
# CI=true, where a missing privilege is a failure.
if [ "$(id -u)" = 0 ]; then
	unshare --mount "$(dirname "$0")/scratch-install.sh" "$deb" || fail "scratch install failed"
elif [ "${CI:-}" = true ]; then
	fail "not root: cannot install $deb into a scratch root (CI=true)"
else
	echo "check-deb: not root: scratch install (dpkg --root) NOT checked" >&2
fi

# Unpacked (dpkg -x): the files as shipped, with no dependency on root.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
ver=$("$root/usr/bin/ptpcam_exporter" --version 2>&1)
grep -q "^ptpcam_exporter, version $(cat VERSION) " <<<"$ver" || fail "installed exporter --version: $ver"
echo "check-deb: installed: $(head -n 1 <<<"$ver")"
# camrecord reads the shipped take config (YAML, unknown keys fail) before
# --version; a misspelt key in a copy of it fails, naming the line.
out=$("$root/usr/bin/camrecord" --config "$root/etc/ptpcam/camrecord-example.yaml" --version 2>&1) ||
	fail "installed camrecord with /etc/ptpcam/camrecord-example.yaml: $out"
bad=$(mktemp)
sed 's/^  pixel_format:/  pixel_fromat:/' "$root/etc/ptpcam/camrecord-example.yaml" >"$bad"
if out=$("$root/usr/bin/camrecord" --config "$bad" --version 2>&1); then
	rm -f "$bad"
	fail "installed camrecord accepted an unknown key in a copy of camrecord-example.yaml: $out"
fi
rm -f "$bad"
grep -q 'unknown key "pixel_fromat" in defaults' <<<"$out" || fail "unknown key not named: $out"
echo "check-deb: installed camrecord reads /etc/ptpcam/camrecord-example.yaml and refuses a misspelt key"

# The units as installed, with ExecStart pointing into the scratch root
# (systemd-analyze checks that the binaries exist and are executable);
# camrecord@ is verified as an instance.
units=$(mktemp -d)
trap 'rm -rf "$root" "$units"' EXIT
sed "s|/usr/bin/|$root/usr/bin/|g" "$root/lib/systemd/system/ptpcam_exporter.service" >"$units/ptpcam_exporter.service"
sed "s|/usr/bin/|$root/usr/bin/|g" "$root/lib/systemd/system/camrecord@.service" >"$units/camrecord@example.service"
out=$(systemd-analyze verify "$units/ptpcam_exporter.service" "$units/camrecord@example.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
if grep -q . <<<"$out"; then
	fail "systemd-analyze verify warns: $out"
fi
echo "check-deb: systemd-analyze verify: both units clean"

# What systemd-analyze cannot see. Both binaries open devices (PM QoS, the
# PHC): no device allow-list, and no ProtectClock= (it implies one). Both
# talk to ptp4l, which replies to a socket path: that path must not be in a
# private /tmp.
for u in ptpcam_exporter.service camrecord@.service; do
	f=$root/lib/systemd/system/$u
	bad=$(grep -E '^(ProtectClock|PrivateDevices|DeviceAllow|DevicePolicy)=' "$f" || true)
	[ -z "$bad" ] || fail "$u restricts devices the binary opens: $bad"
	if grep -qx 'PrivateTmp=yes' "$f"; then
		grep -qE '^Environment=TMPDIR=/run/|--ptp.client-dir=/run/' "$f" ||
			fail "$u has a private /tmp but the ptp4l client socket would be made in it"
	fi
done
echo "check-deb: units: no device allow-list, ptp4l's replies reach the client socket"
