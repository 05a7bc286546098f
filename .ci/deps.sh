#!/usr/bin/env bash
# Installs what ptpcam needs on a fresh Debian (bookworm) machine as root:
# the Debian packages of the real parts the tests and the demo run, and a Go
# toolchain new enough for go.mod. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(linuxptp libaravis-dev libusb-1.0-0-dev pkg-config aravis-tools aravis-tools-cli
      ffmpeg prometheus prometheus-alertmanager iproute2 procps util-linux gcc make curl git ca-certificates unzip
      systemd jq adduser mount)
# systemd: systemd-analyze verify (make deb-check); jq: make demo; adduser:
# the package's Depends and postinst, resolved in deb-check's scratch root;
# mount (and util-linux's unshare): that scratch root. dpkg-deb is dpkg's.
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Go: go.mod's version, from /usr/local/go when present. Otherwise Debian's Go
# bootstraps: it downloads the toolchain module from the configured module
# proxy (its built-in default) and that becomes /usr/local/go.
want=$(awk '/^go /{print $2}' go.mod)
have=""
if [ -x /usr/local/go/bin/go ]; then
	have=$(/usr/local/go/bin/go env GOVERSION 2>/dev/null | sed 's/^go//')
fi
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
	echo "deps: installing Go toolchain (need >= $want, have '${have:-none}')" >&2
	command -v go >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; }
	tc=1.26.8
	arch=$(dpkg --print-architecture)
	dir=$(cd /tmp && GOFLAGS=-modcacherw GO111MODULE=on GOTOOLCHAIN=local \
		go mod download -json "golang.org/toolchain@v0.0.1-go${tc}.linux-${arch}" | awk -F'"' '/"Dir"/{print $4}')
	rm -rf /usr/local/go
	cp -a "$dir" /usr/local/go
	chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
fi
export PATH=/usr/local/go/bin:$PATH
go mod download
