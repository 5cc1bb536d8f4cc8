#!/usr/bin/env bash
# How fast `seal log` reads a long history: 1,000 commits of a
# 1,000-value YAML file, each commit changing one value with `seal set`
# and signed with an SSH ed25519 key, so every version's signature is
# verified too. Target: under 2 s for `seal log FILE` (and `--json`).
#
#   scripts/bench-log.sh              1,000 commits of a 1,000-value file
#   scripts/bench-log.sh COMMITS VALUES   other sizes (e.g. 50 100 for a smoke test)
#
# Works under target/bench-log/ (override with BENCH_DIR); the history is
# built once and reused while its size matches. Honours CARGO_TARGET_DIR.
set -euo pipefail

bench_name=bench-log
source "$(dirname "$0")/lib/bench-common.sh"

commits="${1:-1000}"
values="${2:-1000}"
[[ "$commits" =~ ^[0-9]+$ && "$values" =~ ^[0-9]+$ && "$commits" -ge 2 && "$values" -ge 2 ]] \
  || die "usage: $0 [COMMITS>=2] [VALUES>=2]"

work="$(bench_work_dir bench-log)"
require_tools git ssh-keygen
build_seal

hist="$work/history-$commits-$values"
export SSH_AUTH_SOCK= SEAL_IDENTITY_FILE="$work/id.txt" SEAL_SIGNING_KEY="$work/signer"
mkdir -p "$work"
[ -f "$work/id.txt" ] || "$seal_bin" keygen -o "$work/id.txt" >/dev/null 2>&1
[ -f "$work/signer" ] || ssh-keygen -q -t ed25519 -N '' -C bench@seal -f "$work/signer"
if [ ! -f "$hist/.done" ]; then
  log "building a history of $commits commits of a $values-value file (once)"
  rm -rf "$hist"
  mkdir -p "$hist"
  cd "$hist"
  git init -q -b main
  git config user.name bench
  git config user.email bench@seal.test
  git config commit.gpgsign false
  python3 - "$values" > secrets.yaml <<'PY'
import sys
n = int(sys.argv[1])
for g in range(0, n, 10):
    print(f"group{g // 10}:")
    for k in range(g, min(g + 10, n)):
        print(f"  key{k}: value-{k}-initial")
PY
  "$seal_bin" encrypt --in-place -r "$("$seal_bin" keygen -y "$work/id.txt")" secrets.yaml
  git add secrets.yaml
  git commit -q -m "commit 0"
  for i in $(seq 1 $((commits - 1))); do
    k=$(( (i * 7919) % values ))
    "$seal_bin" set secrets.yaml "group$((k / 10)).key$k" "value-$k-$i"
    git commit -q -am "commit $i"
  done
  touch .done
  cd - >/dev/null
fi
cd "$hist"
[ "$(git rev-list --count HEAD)" = "$commits" ] || die "the history has the wrong number of commits"
"$seal_bin" log secrets.yaml > "$work/log.txt"
entries=$(grep -c '^commit ' "$work/log.txt")
[ "$entries" = "$commits" ] || die "seal log shows $entries commits, expected $commits"
# Every commit but the first changes exactly one key path, signed.
changed=$(grep -c '^    ~ ' "$work/log.txt")
[ "$changed" -ge $((commits - 1)) ] || die "seal log shows $changed changed paths"
# Every version is signed, and every signature verifies.
if grep -q 'INVALID' "$work/log.txt"; then die "a signature did not verify"; fi
signed=$(grep -c 'signed by' "$work/log.txt")
[ "$signed" = "$commits" ] || die "seal log shows $signed signed commits, expected $commits"

# Best of 5 runs: wall ms and CPU ms (user + system, seal and git).
read -r text_ms text_cpu <<< "$(best_ms 5 "$seal_bin" log secrets.yaml)"
read -r json_ms json_cpu <<< "$(best_ms 5 "$seal_bin" log --json secrets.yaml)"
read -r path_ms path_cpu <<< "$(best_ms 5 "$seal_bin" log secrets.yaml group0.key0)"
printf '%s\n' \
  "| history | seal log ms (CPU ms) | --json ms (CPU ms) | FILE PATH ms (CPU ms) | load average |" \
  "|---|---:|---:|---:|---:|" \
  "| $commits commits, $values values, signed | $text_ms ($text_cpu) | $json_ms ($json_cpu) | $path_ms ($path_cpu) | $(load_avg | cut -d' ' -f1) |"
[ "$text_ms" -lt 2000 ] || { log "target missed: $text_ms ms (under 2,000 ms wanted)"; exit 1; }
