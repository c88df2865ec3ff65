#!/usr/bin/env bash
# e2e.sh: examples/server with every windhover policy on, against the same
# server with -bare, under wrk (HTTP/1.1) and h2load (h2c), in alternating
# rounds. Prints Markdown tables: requests/s, latency percentiles and the
# server's CPU time per request (user and system, from /proc on Linux) per arm
# per round, and the median windhover/bare ratios for each protocol. The
# client shares the machine's cores with the server, so a round's throughput
# also depends on how the scheduler splits them; the CPU time per request
# does not, though on a shared machine it still moves with the neighbours'
# load.
#
#   benchmarks/e2e.sh [-r rounds] [-d seconds] [-w seconds]
#
# ROUNDS, DURATION and WARMUP in the environment set the same (defaults 3, 5
# and 1). Progress goes to stderr, the tables to stdout. Any missing tool,
# failed request, non-2xx response, socket error or refusal logged by the
# server stops the script with a non-zero status.
set -euo pipefail

rounds=${ROUNDS:-3}
duration=${DURATION:-5}
warmup=${WARMUP:-1}
usage() {
  echo "usage: $0 [-r rounds (default 3)] [-d seconds per run (default 5)] [-w warm-up seconds (default 1)]" >&2
  exit 2
}
while getopts "r:d:w:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
(($# == 0)) || usage
[[ $rounds =~ ^[1-9][0-9]*$ && $duration =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ ]] || usage

die() {
  echo "e2e.sh: $*" >&2
  exit 1
}
log() { echo "e2e.sh: $*" >&2; }

for tool in go wrk h2load awk sort; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install wrk nghttp2-client)"
done

# The load: wrk's and h2load's settings, the same for both arms.
wrk_args=(-t2 -c32 "-d${duration}s" --latency)
h2load_args=(-t2 -c16 -m16 -D "$duration")

# The arms. windhover: every policy with its defaults (Kestrel's limits,
# timeouts and minimum data rates, host filtering, metrics, graceful), plus
# the optional ones on with limits no honest load reaches: a connection
# limit, a per-client rate (wrk and h2load are one client) and a concurrency
# limit with a queue.
common=(-addr 127.0.0.1:0 -h2c -shutdown-timeout 5s)
windhover_flags=(-max-conns 10000 -rate 1000000000 -burst 1000000000 -max-concurrent 1024 -queue 1024)
bare_flags=(-bare)

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building examples/server"
(cd "$root" && go build -o "$work/server" ./examples/server)

# start_server ARM starts the server for ARM and sets url.
start_server() {
  local arm=$1 flags
  if [[ $arm == windhover ]]; then flags=("${windhover_flags[@]}"); else flags=("${bare_flags[@]}"); fi
  : >"$work/stdout"
  "$work/server" "${common[@]}" "${flags[@]}" >"$work/stdout" 2>"$work/$arm.log" &
  server_pid=$!
  url=""
  for _ in $(seq 100); do
    url=$(grep -o 'http://[^ ]*' "$work/stdout" || true)
    [[ -n $url ]] && return
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/$arm.log" >&2; die "the $arm server exited at start"; }
    sleep 0.1
  done
  die "the $arm server did not start within 10 s"
}

# stop_server ARM stops the server with SIGTERM and checks it exited cleanly
# and refused nothing.
stop_server() {
  local arm=$1 rc=0
  kill -TERM "$server_pid"
  wait "$server_pid" || rc=$?
  server_pid=""
  ((rc == 0)) || { cat "$work/$arm.log" >&2; die "the $arm server exited with status $rc"; }
  if grep -q 'msg=refused' "$work/$arm.log"; then
    grep -m 5 'msg=refused' "$work/$arm.log" >&2
    die "the $arm server refused honest load"
  fi
}

# ms converts a wrk duration (689.00us, 2.16ms, 1.02s) to milliseconds.
ms() {
  awk -v d="$1" 'BEGIN {
    v = d + 0
    if (d ~ /us$/) v /= 1000; else if (d ~ /ms$/) v += 0; else if (d ~ /m$/) v *= 60000; else if (d ~ /s$/) v *= 1000
    printf "%.2f", v
  }'
}

# run_wrk SECONDS prints "requests/s p50 p90 p99 requests" (milliseconds) for
# one run.
run_wrk() {
  local out=$work/wrk.out args=("${wrk_args[@]}")
  args[2]="-d${1}s"
  wrk "${args[@]}" "$url/" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
  if grep -Eq 'Non-2xx|Socket errors' "$out"; then
    cat "$out" >&2
    die "wrk saw errors or non-2xx responses"
  fi
  local rps p50 p90 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p90=$(awk '$1 == "90%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  [[ -n $rps && -n $p99 ]] || { cat "$out" >&2; die "cannot read wrk's output"; }
  local n
  n=$(awk '/ requests in / {print $1}' "$out")
  [[ -n $n ]] || { cat "$out" >&2; die "cannot read wrk's request count"; }
  echo "$rps $(ms "$p50") $(ms "$p90") $(ms "$p99") $n"
}

# run_h2load SECONDS prints "requests/s p50 p90 p99 requests" (milliseconds)
# for one run; the percentiles come from h2load's per-request log.
run_h2load() {
  local out=$work/h2load.out reqlog=$work/h2load.log args=("${h2load_args[@]}")
  args[4]=$1
  rm -f "$reqlog"
  h2load "${args[@]}" --log-file="$reqlog" "$url/" >"$out" 2>&1 || { cat "$out" >&2; die "h2load failed"; }
  # h2load's threads write their lines at once, and may cut "Application
  # protocol: h2c" in two: look for the protocol's name, and for no other.
  { grep -q 'h2c' "$out" && ! grep -q 'http/1.1' "$out"; } || { cat "$out" >&2; die "h2load did not speak h2c"; }
  # requests: 94747 total, 95003 started, 94747 done, 94747 succeeded, 0 failed, 0 errored, 0 timeout
  # status codes: 94747 2xx, 0 3xx, 0 4xx, 0 5xx
  local bad
  bad=$(awk '/^requests:/ {print $10 + $12 + $14, ($8 == 0)} /^status codes:/ {print $5 + $7 + $9}' "$out" | awk '{s += $1 + $2} END {print s + 0}')
  if [[ $bad != 0 ]] || ! grep -q '^status codes:' "$out"; then
    cat "$out" >&2
    die "h2load saw failed, errored or timed-out requests, or non-2xx responses"
  fi
  local rps
  rps=$(awk '/^finished in/ {print $4}' "$out")
  [[ -n $rps ]] || { cat "$out" >&2; die "cannot read h2load's output"; }
  echo "$rps $(cut -f3 "$reqlog" | sort -n | awk '
    { v[NR] = $1 }
    function at(p,   i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; return v[i] / 1000 }
    END { printf "%.2f %.2f %.2f", at(0.50), at(0.90), at(0.99) }') $(awk '/^requests:/ {print $8}' "$out")"
}

# cpu_ticks prints the server's CPU time so far (user and system) in clock
# ticks, or nothing where /proc does not have it.
cpu_ticks() {
  [[ -r /proc/$server_pid/stat ]] || return 0
  # The fields after the command's name, which ends with the last ")":
  # state is the 1st, utime the 12th, stime the 13th.
  sed 's/.*) //' "/proc/$server_pid/stat" | awk '{print $12 + $13}'
}
ticks_per_s=$(getconf CLK_TCK 2>/dev/null || echo 100)
[[ -r /proc/self/stat ]] || log "no /proc/PID/stat here: the server's CPU time per request shows as -"

# measure TOOL SECONDS runs TOOL (run_wrk or run_h2load) and prints its
# "requests/s p50 p90 p99" and the server's CPU microseconds per request
# ("-" where it cannot be read).
measure() {
  local t0 t1 out
  t0=$(cpu_ticks)
  out=$("$1" "$2")
  t1=$(cpu_ticks)
  # shellcheck disable=SC2086 # out is five numbers
  set -- $out
  local cpu="-"
  if [[ -n $t0 && -n $t1 && ${5:-0} -gt 0 ]]; then
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$ticks_per_s" -v n="$5" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}')
  fi
  echo "$1 $2 $3 $4 $cpu"
}

results=$work/results # round tool arm rps p50 p90 p99 cpu
: >"$results"
for ((round = 1; round <= rounds; round++)); do
  # Alternate which arm goes first, so that drift in the machine's load
  # favours neither.
  if ((round % 2)); then arms=(windhover bare); else arms=(bare windhover); fi
  for arm in "${arms[@]}"; do
    start_server "$arm"
    log "round $round/$rounds: $arm at $url"
    if ((warmup > 0)); then
      run_wrk "$warmup" >/dev/null
      run_h2load "$warmup" >/dev/null
    fi
    # Assignments, so that a run's failure (die in the command
    # substitution's subshell) stops the script under set -e.
    h1=$(measure run_wrk "$duration")
    h2c=$(measure run_h2load "$duration")
    echo "$round h1 $arm $h1" >>"$results"
    echo "$round h2c $arm $h2c" >>"$results"
    stop_server "$arm"
  done
done

echo "### Rounds"
echo
echo "| round | protocol | arm | requests/s | p50 ms | p90 ms | p99 ms | server CPU µs/request |"
echo "|---:|---|---|---:|---:|---:|---:|---:|"
sort -k1,1n -k2,2 -k3,3r "$results" | awk '{printf "| %s | %s | %s | %.0f | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}'
echo
echo "### Medians over $rounds rounds"
echo
echo "| protocol | arm | requests/s | p50 ms | p90 ms | p99 ms | server CPU µs/request | windhover/bare requests/s, per round | median ratio | bare/windhover CPU per request, per round | median CPU ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|"
awk '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return "-"
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function fmt(v, f) { return v == "-" ? "-" : sprintf(f, v) }
  {
    k = $2 SUBSEP $3
    rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p90[k] = p90[k] " " $6; p99[k] = p99[k] " " $7
    if ($8 != "-") cpu[k] = cpu[k] " " $8
    by[$1, $2, $3] = $4; cpuby[$1, $2, $3] = $8; if (!($1 in seen)) { seen[$1] = 1; order[++nr] = $1 }
  }
  END {
    split("h1 h2c", protos, " ")
    for (p = 1; p <= 2; p++) {
      proto = protos[p]; ratios = ""; shown = ""; cratios = ""; cshown = ""
      for (r = 1; r <= nr; r++) {
        x = by[order[r], proto, "windhover"] / by[order[r], proto, "bare"]
        ratios = ratios " " x; shown = shown (r > 1 ? ", " : "") sprintf("%.3f", x)
        w = cpuby[order[r], proto, "windhover"]; b = cpuby[order[r], proto, "bare"]
        if (w != "-" && b != "-" && w > 0) {
          x = b / w; cratios = cratios " " x; cshown = cshown (cshown != "" ? ", " : "") sprintf("%.3f", x)
        }
      }
      for (a = 1; a <= 2; a++) {
        arm = a == 1 ? "windhover" : "bare"; k = proto SUBSEP arm
        printf "| %s | %s | %.0f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s |\n", proto, arm,
          median(rps[k]), median(p50[k]), median(p90[k]), median(p99[k]), fmt(median(cpu[k]), "%.2f"),
          a == 1 ? shown : "", a == 1 ? sprintf("**%.3f**", median(ratios)) : "",
          a == 1 ? cshown : "", a == 1 ? "**" fmt(median(cratios), "%.3f") "**" : ""
      }
    }
  }' "$results"
echo
echo "Load: \`wrk ${wrk_args[*]} URL/\` (HTTP/1.1) and \`h2load ${h2load_args[*]} URL/\` (h2c, prior knowledge), after a ${warmup} s warm-up of each."
echo "Servers: \`server ${common[*]} ${windhover_flags[*]}\` (windhover) and \`server ${common[*]} ${bare_flags[*]}\` (bare)."
echo "Latency percentiles: wrk's --latency; h2load's from its per-request log (--log-file), nearest rank."
echo "Server CPU: its user and system time over the measured run (/proc/PID/stat), divided by the requests the client completed; the CPU ratio is bare's over windhover's, the throughput windhover would have on the same CPU time."
