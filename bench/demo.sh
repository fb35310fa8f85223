#!/usr/bin/env bash
# `make demo`: watch contentdl work, offline, in one command. Starts contentdl-sim
# with a small scenario (testdata/scenarios/demo.yaml: 50 works, a rate-limited host
# and a faulty one), runs contentdl against it with both feature gates on, prints
# provider-learning-status and what the simulator saw, and stops the simulator.
# Everything it writes lives in a temporary folder that is removed at the end.
#
#   BIN=bin SCENARIO=testdata/scenarios/demo.yaml bench/demo.sh
set -euo pipefail

BIN=${BIN:-bin}
SCENARIO=${SCENARIO:-testdata/scenarios/demo.yaml}
TOPIC=${TOPIC:-$(sed -n 's/^topic: *//p' "$SCENARIO" | head -n 1)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/contentdl-demo.XXXXXX")
sim_pid=""
stop_sim() {
  if [ -n "$sim_pid" ]; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=""
  fi
}
trap 'stop_sim; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

"$BIN/contentdl-sim" --scenario "$SCENARIO" --addr-file "$tmp/sim.json" --print-config \
  >"$tmp/contentdl.yaml" 2>"$tmp/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do
  [ -s "$tmp/sim.json" ] && break
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    echo "demo: contentdl-sim exited:" >&2
    cat "$tmp/sim.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$tmp/sim.json" ]; then
  echo "demo: contentdl-sim did not start within 10 s" >&2
  cat "$tmp/sim.log" >&2
  exit 1
fi
cat >>"$tmp/contentdl.yaml" <<'YAML'
# Only the resolvers the simulator serves: the others would leave loopback.
resolvers:
  order: [openalex, unpaywall, landing_page]
YAML

echo "== contentdl-sim is serving scenario $SCENARIO; the configuration contentdl gets:"
cat "$tmp/contentdl.yaml"
echo
echo "== contentdl run --topic \"$TOPIC\" --mailto demo@example.org --enable-contextual-retry --enable-provider-learning"
code=0
"$BIN/contentdl" run --config "$tmp/contentdl.yaml" --topic "$TOPIC" --out "$tmp/out" --workers 8 \
  --mailto demo@example.org --enable-contextual-retry --enable-provider-learning \
  --provider-learning-path "$tmp/provider-learning.json" || code=$?
case $code in
  0) ;;
  3) echo "(exit 3: the run finished, but some works failed or were deferred; see the table above)" ;;
  *) echo "demo: contentdl run exited $code" >&2; exit "$code" ;;
esac
echo
echo "== contentdl provider-learning-status"
"$BIN/contentdl" provider-learning-status --provider-learning-path "$tmp/provider-learning.json"
echo
echo "== what the simulator saw (in_retry_after_window: requests sent while a Retry-After was running; 0 is polite)"
stop_sim
grep 'host stats' "$tmp/sim.log" | sed 's/^.*msg="contentdl-sim: host stats" //' || true
