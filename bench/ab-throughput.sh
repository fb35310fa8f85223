#!/usr/bin/env bash
# The throughput scenario of `make bench` (testdata/scenarios/throughput.yaml: 2,000
# direct PDFs of 256 KiB on one unlimited host, 16 workers, curl --parallel-max 16)
# for several contentdl binaries and curl side by side: each repetition runs every
# binary and curl once, in an order that rotates, and prints wall and CPU time
# (rusage) of each. Made to compare a change with what it replaces on a shared
# machine, where only runs that alternate can be compared. BINARY:gates runs that
# binary with both feature gates on (the overhead pairs of `make bench`); NOCURL=1
# leaves curl out; PROFILE_DIR=dir writes a CPU and an allocation profile of each
# contentdl run there (CONTRIBUTING.md, Profiling).
#
#   bench/ab-throughput.sh DEST REPS BINARY[:gates]...     e.g.
#   bench/ab-throughput.sh /dev/shm/ab 5 /tmp/contentdl-main bin/contentdl
#   NOCURL=1 bench/ab-throughput.sh /dev/shm/ab 11 bin/contentdl bin/contentdl:gates
#
# DEST is a scratch folder (created; its runs are removed as they end): a tmpfs such
# as /dev/shm, or a folder on disk. Needs go (to build the simulator and the rusage
# helper), curl, and nothing from the network.
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,19p' "$0" >&2
  exit 2
fi
DEST=$1
REPS=$2
shift 2
BINS=()
for b in "$@"; do
  suffix=""
  case $b in *:gates) b=${b%:gates} suffix=:gates ;; esac
  BINS+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")$suffix")
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/contentdl-ab.XXXXXX")
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$ROOT" && "$GO" build -o "$tmp/contentdl-sim" ./cmd/contentdl-sim && "$GO" build -o "$tmp/rusage" ./bench/cmd/rusage)
"$tmp/contentdl-sim" --scenario "$ROOT/testdata/scenarios/throughput.yaml" --addr-file "$tmp/sim.json" \
  >/dev/null 2>"$tmp/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do
  [ -s "$tmp/sim.json" ] && break
  sleep 0.1
done
[ -s "$tmp/sim.json" ] || { cat "$tmp/sim.log" >&2; exit 1; }
json_field() { sed -n "s/.*\"$1\": *\"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\}.*/\\1/p" "$2" | head -n 1; }
openalex=$(json_field openalex_url "$tmp/sim.json")
host=$(json_field addr "$tmp/sim.json")
topic=$(sed -n 's/^topic: *//p' "$ROOT/testdata/scenarios/throughput.yaml")
# The limits bench/suite/throughput.go sets: the host's rate out of the way (its
# concurrency cap stays at 16), OpenAlex paged quickly, only the openalex resolver.
cat >"$tmp/contentdl.yaml" <<YAML
openalex: {base_url: $openalex, per_page: 200}
resolvers: {order: [openalex]}
rate_limits:
  hosts:
    - {host: ${openalex#http://}, rps: 1000, burst: 100}
    - {host: $host, rps: 100000, burst: 1000, concurrency: 16}
YAML
mkdir -p "$DEST"

cost() { # rusage JSON → "wall=… cpu=…"
  local w u s
  w=$(sed -n 's/.*"wall_ns": *\([0-9]*\).*/\1/p' "$1")
  u=$(sed -n 's/.*"user_ns": *\([0-9]*\).*/\1/p' "$1")
  s=$(sed -n 's/.*"sys_ns": *\([0-9]*\).*/\1/p' "$1")
  awk -v w="$w" -v u="$u" -v s="$s" 'BEGIN { printf "wall=%.3f cpu=%.3f", w/1e9, (u+s)/1e9 }'
}

run_contentdl() { # binary[:gates] out label
  local bin=${1%:gates} gates=() env=()
  if [ "$bin" != "$1" ]; then
    gates=(--enable-contextual-retry --enable-provider-learning --provider-learning-path "$2.state/learning.json")
  fi
  if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR"
    env=("CONTENTDL_CPUPROFILE=$PROFILE_DIR/$3.cpu.pprof" "CONTENTDL_MEMPROFILE=$PROFILE_DIR/$3.allocs.pprof")
  fi
  env "${env[@]}" "$tmp/rusage" -o "$tmp/cost.json" -- "$bin" run --topic "$topic" --config "$tmp/contentdl.yaml" \
    --out "$2" --workers 16 --json --progress never --log-level warn "${gates[@]}" >"$tmp/summary.json" 2>"$tmp/stderr.log" || true
  if ! grep -q '"saved": *2000' "$tmp/summary.json"; then
    echo "$1 did not save 2000 files:" >&2
    tail -n 20 "$tmp/stderr.log" >&2
    exit 1
  fi
  if [ ! -s "$tmp/urls" ]; then # curl fetches what contentdl fetched
    grep '"record_type":"manifest"' "$2/manifest.jsonl" |
      sed -n 's/.*"work_id":"\([^"]*\)".*"url":"\([^"]*\)".*/\2 \1/p' >"$tmp/urls"
  fi
}

run_curl() { # out
  mkdir -p "$1"
  awk -v o="$1" '{ print "url = \"" $1 "\"\noutput = \"" o "/" $2 ".pdf\"" }' "$tmp/urls" >"$tmp/curl.cfg"
  "$tmp/rusage" -o "$tmp/cost.json" -- curl --parallel --parallel-max 16 --silent --show-error --fail \
    --config "$tmp/curl.cfg" 2>"$tmp/stderr.log" || { tail -n 20 "$tmp/stderr.log" >&2; exit 1; }
  local n
  n=$(find "$1" -name '*.pdf' | wc -l)
  [ "$n" -eq 2000 ] || { echo "curl saved $n files" >&2; exit 1; }
}

# A first contentdl run lists the URLs for curl (not measured).
run_contentdl "${BINS[0]}" "$DEST/ab-warm" warm
rm -rf "$DEST/ab-warm" "$DEST/ab-warm.state"
names=("${BINS[@]}")
[ -n "${NOCURL:-}" ] || names+=(curl)
n=${#names[@]}
for rep in $(seq 1 "$REPS"); do
  for i in $(seq 0 $((n - 1))); do
    who=${names[$(((i + rep) % n))]}
    out="$DEST/ab-$rep-$i"
    if [ "$who" = curl ]; then
      run_curl "$out"
      label=curl
    else
      label=$(basename "${who%:gates}")
      [ "$who" = "${who%:gates}" ] || label="$label+gates"
      run_contentdl "$who" "$out" "$label-$rep"
    fi
    echo "rep=$rep $label $(cost "$tmp/cost.json")"
    rm -rf "$out" "$out.state"
  done
done
