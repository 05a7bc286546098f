#!/usr/bin/env bash
# make demo: a simulated rig (ptp4l grandmaster + camsim cameras in network
# namespaces) with ptpcam_exporter in the rig's host namespace; prints its
# metrics, then keeps the rig up for DEMO_SECONDS (default 60; 0 = until
# Ctrl-C) and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build
name=${RIG_NAME:-ptpcam-demo}
cameras=${DEMO_CAMERAS:-4}
seconds=${DEMO_SECONDS:-60}

"$bin/rig" --name "$name" down >/dev/null 2>&1 || true
cleanup() { "$bin/rig" --name "$name" down || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== rig up: ptp4l grandmaster and $cameras camsim cameras"
"$bin/rig" --name "$name" up --cameras "$cameras"
eval "$("$bin/rig" --name "$name" env | sed 's/^/export /')"

echo "== ptpcam_exporter in namespace $RIG_HOST_NETNS on :9877"
"$bin/rig" --name "$name" exec -- "$PWD/$bin/ptpcam_exporter" --ptp.socket "$PTP_SOCKET" \
	--camera.enable-ptp --camera.interval 2s --web.listen-address 127.0.0.1:9877 >"$RIG_DIR/exporter.log" 2>&1 &
for _ in $(seq 50); do
	"$bin/rig" --name "$name" exec -- curl -sf -o /dev/null http://127.0.0.1:9877/metrics && break
	sleep 0.2
done
sleep 8 # cameras hear the grandmaster's Announce messages, settle, and are sampled
scrape() { "$bin/rig" --name "$name" exec -- curl -sf http://127.0.0.1:9877/metrics | grep -E '^ptpcam_' | grep -vE '(role|state|status|timescale)="[^"]*".*\} 0$' ; }
echo "== scrape"
scrape
if [ "$seconds" = 0 ]; then
	echo "== rig $name is up; Ctrl-C stops it"
	while sleep 10; do :; done
fi
end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
	sleep 10
	echo "== $(date +%T)"
	scrape | grep -E 'role|ptp_status|clock_delta_seconds|offset_from_master_seconds|_up' || true
done
