#!/usr/bin/env bash
# Run every fuzz target in fuzz/ for SECONDS each (default 10) and fail if
# any of them finds a crash, a hang or an out-of-memory input.
#
#   scripts/fuzz.sh          10 s per target (what CI runs)
#   scripts/fuzz.sh 600      a longer session
#
# Works on the stable toolchain: cargo-fuzz needs nightly-only rustc flags
# (-Zsanitizer, sanitizer coverage), which RUSTC_BOOTSTRAP=1 unlocks.
# Installs cargo-fuzz with `cargo install` when it is missing.
#
# Environment:
#   FUZZ_SANITIZER   address (default), none (faster), leak, memory, thread
#   FUZZ_TARGETS     space-separated subset of targets (default: all)
#   FUZZ_TIMEOUT     seconds before one input counts as a hang (default 10)
#   FUZZ_SEED, FUZZ_RUNS  a fixed libFuzzer seed and number of runs per target
#                    (SECONDS then only caps the time): a repeatable run, as
#                    CI uses, so CI fails only on a regression, never on a
#                    lucky new find. Exploratory runs leave them unset.
#
# Writes only under fuzz/ (build in fuzz/target, corpora in fuzz/corpus,
# crashing inputs in fuzz/artifacts) and target/fuzz/ (one log per target).
# Seed inputs live in fuzz/seeds/<target>/ and are copied into the corpus.
set -euo pipefail

die() { echo "fuzz: error: $*" >&2; exit 1; }
log() { echo "fuzz: $*" >&2; }

secs="${1:-10}"
case "$secs" in ''|*[!0-9]*) die "SECONDS must be a whole number, not '$secs'" ;; esac
[ "$secs" -ge 1 ] || die "SECONDS must be at least 1"
[ $# -le 1 ] || die "usage: scripts/fuzz.sh [SECONDS]"
sanitizer="${FUZZ_SANITIZER:-address}"
timeout="${FUZZ_TIMEOUT:-10}"

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
[ -f fuzz/Cargo.toml ] || die "no fuzz/Cargo.toml"
logs="$repo/target/fuzz"
mkdir -p "$logs"

command -v cargo >/dev/null || die "cargo is required"
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked || die "cannot install cargo-fuzz"
fi
log "$(cargo fuzz --version), $(rustc --version)"

# cargo-fuzz passes -Z flags to rustc; a stable toolchain accepts them only
# with RUSTC_BOOTSTRAP=1.
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi
# Build inside fuzz/ whatever CARGO_TARGET_DIR says.
fuzz_opts=(--sanitizer "$sanitizer" --target-dir "$repo/fuzz/target")

log "building the fuzz targets (sanitizer: $sanitizer)"
build_start=$(date +%s)
cargo fuzz build "${fuzz_opts[@]}" >&2 || die "building the fuzz targets failed"
log "built in $(( $(date +%s) - build_start )) s"

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<< "$FUZZ_TARGETS"
else
  mapfile -t targets < <(cargo fuzz list)
fi
[ ${#targets[@]} -gt 0 ] || die "no fuzz targets found"

failed=()
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  if [ -d "fuzz/seeds/$t" ]; then
    cp -p fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  fi
  [ -n "$(ls -A "$corpus")" ] || log "warning: no seeds for $t (fuzz/seeds/$t)"
  log "running $t for $secs s"
  tlog="$logs/$t.log"
  # One test case at a time; -max_total_time bounds the run, -timeout turns
  # a hang into a failure.
  repeatable=()
  if [ -n "${FUZZ_SEED:-}" ]; then
    repeatable=(-seed="$FUZZ_SEED" -runs="${FUZZ_RUNS:-10000}")
    # A fresh corpus each time, so the same seed does the same work.
    rm -rf "$corpus" && mkdir -p "$corpus"
    cp -p fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  fi
  if cargo fuzz run "${fuzz_opts[@]}" "$t" "$corpus" -- \
      -max_total_time="$secs" -timeout="$timeout" -print_final_stats=1 \
      "${repeatable[@]}" > "$tlog" 2>&1; then
    runs="$(grep -Eo 'Done [0-9]+ runs' "$tlog" | tail -n 1 | grep -Eo '[0-9]+' || echo '?')"
    log "$t: ok ($runs runs, corpus $(ls "$corpus" | wc -l) inputs; log: $tlog)"
  else
    failed+=("$t")
    log "$t: FAILED (full log: $tlog)"
    grep -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY' "$tlog" | head -n 20 >&2 || true
    tail -n 40 "$tlog" >&2
    artifact="$(grep -Eo 'Test unit written to [^ ]+' "$tlog" | tail -n 1 | sed 's/^Test unit written to //' || true)"
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
      log "input that fails $t: $artifact ($(wc -c < "$artifact") bytes), as hex:"
      od -An -tx1 -v "$artifact" | tr -d ' \n' | fold -w 120 >&2
      echo >&2
      log "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run ${fuzz_opts[*]} $t $artifact"
    fi
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  die "${#failed[@]} fuzz target(s) failed: ${failed[*]}"
fi
log "all ${#targets[@]} targets ran ${secs} s each without a failure"
