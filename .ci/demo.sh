#!/usr/bin/env bash
# make demo: a simulated rig (ptp4l grandmaster + camsim cameras in network
# namespaces) with ptpcam_exporter and Prometheus (with alerts/ptpcam.rules.yml,
# their `for:` shortened to DEMO_FOR) in the rig's host namespace; prints its
# metrics, keeps the rig up for DEMO_SECONDS (default 60; 0 = until Ctrl-C),
# half-way steps one camera's clock by 5 ms (DEMO_STEP_SERIAL) and prints the
# desync alert going pending -> firing -> resolved with that camera's delta,
# then removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build
name=${RIG_NAME:-ptpcam-demo}
cameras=${DEMO_CAMERAS:-4}
seconds=${DEMO_SECONDS:-60}
step_serial=${DEMO_STEP_SERIAL:-05520126}
alert_for=${DEMO_FOR:-5s}

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
scrape() { "$bin/rig" --name "$name" exec -- curl -sf http://127.0.0.1:9877/metrics | grep -E '^ptpcam_' | grep -vE '(role|state|status|timescale)="[^"]*".*\} 0$' | grep -vE '^ptpcam_ptp_port_messages_total.*\} 0$' ; }
echo "== scrape"
scrape
if [ "$seconds" = 0 ]; then
	echo "== rig $name is up; Ctrl-C stops it"
	while sleep 10; do :; done
fi

echo "== Prometheus in namespace $RIG_HOST_NETNS on :9090, rules with for: $alert_for"
sed -E "s/^(\s+for:\s*)\S+/\1$alert_for/" alerts/ptpcam.rules.yml >"$RIG_DIR/rules.yml"
cat >"$RIG_DIR/prometheus.yml" <<CONF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$RIG_DIR/rules.yml]
scrape_configs:
  - job_name: ptpcam
    static_configs: [{targets: ['127.0.0.1:9877']}]
CONF
"$bin/rig" --name "$name" exec -- prometheus --config.file "$RIG_DIR/prometheus.yml" --storage.tsdb.path "$RIG_DIR/tsdb" \
	--web.listen-address 127.0.0.1:9090 >"$RIG_DIR/prometheus.log" 2>&1 &
prom() { "$bin/rig" --name "$name" exec -- curl -sf --get http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1"; }
for _ in $(seq 100); do prom up >/dev/null 2>&1 && break; sleep 0.2; done
prom up >/dev/null || { echo "demo: Prometheus did not start:"; tail "$RIG_DIR/prometheus.log"; exit 1; }

# desync: the desync alert's state for the stepped camera (none, pending,
# firing), the camera's delta, and every firing alert.
desync() {
	local st delta firing
	st=$(prom "ALERTS{alertname=\"PtpcamCameraClockDesync\",serial=\"$step_serial\"}" | jq -r '.data.result[0].metric.alertstate // "none"')
	delta=$(prom "ptpcam_camera_clock_delta_seconds{serial=\"$step_serial\"}" | jq -r '.data.result[0].value[1] // "?"')
	firing=$(prom 'ALERTS{alertstate="firing"}' | jq -r '[.data.result[].metric | .alertname + (if .serial then "{serial=" + .serial + "}" else "" end)] | join(" ")')
	printf '%s  alert=%-7s delta(%s)=%ss  firing: %s\n' "$(date +%T)" "$st" "$step_serial" "$delta" "${firing:-none}"
	state=$st
	firing_now=${firing:-none}
}
# until STATE TIMEOUT: print desync every second until the alert is in STATE.
until_state() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		desync
		[ "$state" = "$1" ] && return 0
		sleep 1
	done
	echo "demo: PtpcamCameraClockDesync of $step_serial not $1 within $2 s"
	return 1
}

end=$((SECONDS + seconds))
half=$((SECONDS + seconds / 2))
while [ $SECONDS -lt $half ]; do desync; sleep 2; done
echo "== step: camera $step_serial's clock +5 ms (rig ctl $step_serial offset=5ms)"
"$bin/rig" --name "$name" ctl "$step_serial" offset=5ms
until_state pending 60
until_state firing 60
want="PtpcamCameraClockDesync{serial=$step_serial}"
[ "$firing_now" = "$want" ] || { echo "demo: firing '$firing_now', want only $want"; exit 1; }
echo "== firing: $want only (the other $((cameras - 1)) cameras and the host raise nothing)"
echo "== the step removed (offset=0s)"
"$bin/rig" --name "$name" ctl "$step_serial" offset=0s
until_state none 90
echo "== resolved"
while [ $SECONDS -lt $end ]; do desync; sleep 2; done
