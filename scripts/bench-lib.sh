# Shared by scripts/bench.sh and scripts/bench-exec.sh (sourced, not run).
# Needs: die, have_hyperfine (1 or 0), runs_dir (where hyperfine's JSON goes).

# Median wall time and mean CPU time (user + system, children included) in
# milliseconds of a command run with no shell in between, as "WALL CPU".
median_ms() { # name runs warmup cmd...
  local name="$1" runs="$2" warm="$3"; shift 3
  local json="$runs_dir/$name.json"
  if [ "$have_hyperfine" = 1 ]; then
    hyperfine -N --style none --warmup "$warm" --runs "$runs" \
      --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
      || die "hyperfine failed (or the command failed) for $name: $*"
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.2f %.2f" % (r["median"] * 1000, (r["user"] + r["system"]) * 1000))' "$json"
  else
    python3 - "$runs" "$warm" "$@" <<'PY' || die "timing failed for $name: $*"
import os, statistics, subprocess, sys, time
runs, warm, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
times, cpu = [], []
for i in range(warm + runs):
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(1)
    if i >= warm:
        times.append(time.perf_counter() - t)
        cpu.append(ru.ru_utime + ru.ru_stime)
print("%.2f %.2f" % (statistics.median(times) * 1000, statistics.mean(cpu) * 1000))
PY
  fi
}
