#!/usr/bin/env bash
# Regenerate testdata/vectors (spec/FORMAT.md section 11). Vectors are
# meant to be stable: only run this when the format version changes, and
# commit the result. The test identity is public; never use it for real.
#
#   scripts/make-vectors.sh          the version-4 vectors (v4-*, pending values), with this seal
#   SEAL_V3=PATH scripts/make-vectors.sh --v3
#                                    the version-3 vectors (v3-*), with a seal 0.3 binary
#   SEAL_V2=PATH scripts/make-vectors.sh --v2
#                                    the version-2 vectors (v2-*), with a seal 0.2 binary
#   SEAL_V1=PATH scripts/make-vectors.sh --v1
#                                    the version-1 vectors, with a seal 0.1 binary
set -euo pipefail
cd "$(dirname "$0")/.."
v=testdata/vectors
i="$v/invalid"

# The dated vectors of one version (P = v2, v3) with "$seal": four files
# sealed on one day, one value of each changed a month later, then the
# plain files as they decrypt.
dated_vectors() {
  local P=$1 f
  printf '# dates per value\nDB_PASSWORD=hunter2\nAPI_KEY=sk-live-0123\nAPI_KEY=sk-live-4567\nEMPTY=\n' > "$v/$P-app.plain.env"
  printf 'db:\n  password: "p@ss"\n  port: 5432\nkeys:\n  - id: a/b~c\n---\nother: 1\n' > "$v/$P-config.plain.yaml"
  printf '{\n  "api": {"key": "sk-1", "url": "https://x"},\n  "list": [1, 2]\n}\n' > "$v/$P-api.plain.json"
  printf '# TOML\n[db]\npassword = "p@ss"\nport = 5432\n\n[[keys]]\nid = "a/b~c"\n' > "$v/$P-config.plain.toml"
  for f in $P-app.env $P-config.yaml $P-api.json $P-config.toml; do
    SEAL_TEST_NOW=2026-01-15T09:00:00Z "$seal" encrypt -r "$pub" -o "$v/${f%%.*}.sealed.${f#*.}" "$v/${f%%.*}.plain.${f#*.}"
  done
  SEAL_TEST_NOW=2026-02-15T09:30:00Z "$seal" set "$v/$P-app.sealed.env" DB_PASSWORD 'hunter3'
  SEAL_TEST_NOW=2026-02-15T09:30:00Z "$seal" set "$v/$P-config.sealed.yaml" db.password 'n3w'
  SEAL_TEST_NOW=2026-02-15T09:30:00Z "$seal" set "$v/$P-api.sealed.json" /api/key 'sk-2'
  SEAL_TEST_NOW=2026-02-15T09:30:00Z "$seal" set "$v/$P-config.sealed.toml" db.password 'n3w'
  for f in $P-app.env $P-config.yaml $P-api.json $P-config.toml; do
    "$seal" decrypt -o "$v/${f%%.*}.plain.${f#*.}" "$v/${f%%.*}.sealed.${f#*.}"
  done
}

# The version-4 vectors: a file with two pending values (spec section 13),
# one replacing a value and one adding a key, written with no key; the
# plain file is what it opens to, the applied file what a fold gives.
pending_vectors() {
  local ext
  printf 'DB_PASSWORD=hunter2\nAPI_URL=https://api\n' > "$v/v4-pending.plain.env"
  printf '# pending values\ndb:\n  password: hunter2\nurl: https://api\n' > "$v/v4-pending.plain.yaml"
  for ext in env yaml; do
    SEAL_TEST_NOW=2026-03-01T00:00:00Z "$seal" encrypt -r "$pub" -o "$v/v4-pending.sealed.$ext" "$v/v4-pending.plain.$ext"
  done
  printf 'n3w p@ss' | env -u SEAL_IDENTITY_FILE "$seal" set --public "$v/v4-pending.sealed.env" DB_PASSWORD
  printf 'tok-1' | env -u SEAL_IDENTITY_FILE "$seal" set --public "$v/v4-pending.sealed.env" NEW_TOKEN
  printf 'n3w p@ss' | env -u SEAL_IDENTITY_FILE "$seal" set --public "$v/v4-pending.sealed.yaml" db.password
  printf 'tok-1' | env -u SEAL_IDENTITY_FILE "$seal" set --public "$v/v4-pending.sealed.yaml" /db/token
  for ext in env yaml; do
    cp "$v/v4-pending.sealed.$ext" "$v/v4-folded.$ext"
    SEAL_TEST_NOW=2026-03-02T00:00:00Z "$seal" fold --yes "$v/v4-folded.$ext"
    "$seal" decrypt -o "$v/v4-pending.applied.$ext" "$v/v4-folded.$ext"
    rm "$v/v4-folded.$ext"
  done
  # Each refused when the block is read (spec 13.1).
  sed 's/^# seal: version=4$/# seal: version=3/' "$v/v4-pending.sealed.env" > "$i/v4-pending-in-version-3.env"
  sed 's/^# seal: pending=\/NEW_TOKEN$/# seal: pending=\/DB_PASSWORD/' "$v/v4-pending.sealed.env" > "$i/v4-pending-path-twice.env"
  sed 's/^# seal: pending=\/NEW_TOKEN$/# seal: pending=NEW_TOKEN/' "$v/v4-pending.sealed.env" > "$i/v4-pending-bad-path.env"
  sed '0,/^# seal: pending_value=-----END AGE ENCRYPTED FILE-----$/{//d}' "$v/v4-pending.sealed.env" > "$i/v4-pending-bad-armor.env"
}

# valid-mac-P-NAME.env: P's dotenv vector edited by sed SCRIPT, its MAC
# recomputed by scripts/remac.py (an implementation of spec section 9
# independent of seal's), so only the check NAME names refuses it.
edit() {
  local P=$1 name=$2
  sed "$3" "$v/$P-app.sealed.env" > "$i/valid-mac-$P-$name.env"
  python3 scripts/remac.py "$v/identity.txt" "$i/valid-mac-$P-$name.env"
}

# Every invalid vector of version P must be refused.
check_refused() {
  local f
  for f in "$i/$1"-* "$i/valid-mac-$1"-*; do
    if "$seal" decrypt "$f" >/dev/null 2>&1; then echo "invalid vector $f was accepted" >&2; exit 1; fi
  done
  ls -1 "$v" "$i"
}

if [ "${1:-}" = "" ] || [ "${1:-}" = --v2 ] || [ "${1:-}" = --v3 ]; then
  case "${1:-}" in
    --v2) seal="${SEAL_V2:?SEAL_V2 must name a seal 0.2 binary (version-2 writer)}"; P=v2 ;;
    --v3) seal="${SEAL_V3:?SEAL_V3 must name a seal 0.3 binary (version-3 writer)}"; P=v3 ;;
    *)
      cargo build --quiet
      seal="${CARGO_TARGET_DIR:-$PWD/target}/debug/seal"
      P=v4
      ;;
  esac
  pub=$("$seal" keygen -y "$v/identity.txt")
  export SEAL_IDENTITY_FILE="$PWD/$v/identity.txt"
  rm -f "$v/$P"-* "$i/$P"-* "$i/valid-mac-$P"-*
  if [ $P = v4 ]; then
    pending_vectors
    check_refused $P
    exit 0
  fi
  dated_vectors $P
  if [ $P = v3 ]; then
    # The `*` date edited: the MAC covers it.
    sed 's/"\*": "2026-01-15/"*": "2026-01-16/' "$v/v3-config.sealed.yaml" > "$i/v3-edited-star-date.yaml"
    edit v3 changed-star-not-first '/^# seal: changed=\* /{h;d}; /^# seal: changed=\/API_KEY /G'
    edit v3 changed-star-twice '/^# seal: changed=\* /p'
    edit v3 changed-star-in-version-2 's/^# seal: version=3$/# seal: version=2/'
  else
    # A date edited: the MAC covers `changed`.
    sed 's/"\/db\/port": "2026-01-15/"\/db\/port": "2026-02-15/' "$v/v2-config.sealed.yaml" > "$i/v2-edited-changed-date.yaml"
    sed 's/"\/api\/url": "2026-01-15/"\/api\/url": "2026-03-15/' "$v/v2-api.sealed.json" > "$i/v2-edited-changed-date.json"
    sed 's/{ path = "\/db\/port", date = "2026-01-15/{ path = "\/db\/port", date = "2026-02-15/' "$v/v2-config.sealed.toml" > "$i/v2-edited-changed-date.toml"
    # A version-2 block passed off as version 1 (the MAC label differs).
    sed 's/^# seal: version=2$/# seal: version=1/' "$v/v2-app.sealed.env" > "$i/v2-as-version-1.env"
    # An unknown future version.
    sed 's/^# seal: version=2$/# seal: version=6/' "$v/v2-app.sealed.env" > "$i/v2-unknown-version-6.env"
    edit v2 changed-unknown-path 's/^# seal: changed=\/API_KEY /# seal: changed=\/API_SECRET /'
    edit v2 changed-out-of-order '/^# seal: changed=\/DB_PASSWORD /{h;d}; /^# seal: changed=\/API_KEY /G'
    edit v2 changed-duplicate '/^# seal: changed=\/API_KEY /p'
    edit v2 changed-bad-date 's/^\(# seal: changed=\/API_KEY \)2026-01-15T09:00:00Z/\12026-01-15 09:00:00/'
    edit v2 changed-empty-value 's/^# seal: changed=\/API_KEY /# seal: changed=\/EMPTY /'
    edit v2 changed-in-version-1 's/^# seal: version=2$/# seal: version=1/'
  fi
  check_refused $P
  exit 0
fi
seal="${SEAL_V1:?SEAL_V1 must name a seal 0.1 binary (version-1 writer)}"
[ -f "$v/identity.txt" ] || "$seal" keygen -o "$v/identity.txt" >/dev/null 2>&1
pub=$("$seal" keygen -y "$v/identity.txt")
export SEAL_IDENTITY_FILE="$PWD/$v/identity.txt"

cp testdata/roundtrip/tricky.yaml "$v/config.plain.yaml"
cp testdata/roundtrip/pretty.json "$v/api.plain.json"
cp testdata/roundtrip/app.env "$v/app.plain.env"
cp testdata/roundtrip/k8s.yaml "$v/k8s.plain.yaml"
printf 'a: 1\r\nb: "two"\r\n' > "$v/crlf.plain.yaml"
for f in config.yaml api.json app.env crlf.yaml; do
  "$seal" encrypt -r "$pub" -o "$v/${f%%.*}.sealed.${f#*.}" "$v/${f%%.*}.plain.${f#*.}"
done
"$seal" encrypt -r "$pub" --encrypt 'stringData.*' --encrypt 'data.*' -o "$v/k8s.sealed.yaml" "$v/k8s.plain.yaml"

# Invalid vectors: each must be refused.
i="$v/invalid"
# valid-mac-*: files whose MAC was recomputed after the edit (by an
# independent implementation of spec section 9), so that only the check
# they name can refuse them. They cannot be made here, and are kept.
find "$i" -type f ! -name 'valid-mac-*' ! -name 'v2-*' -delete
src="$v/api.sealed.json"
tok() { grep -o 'seal\.v1\.[A-Za-z0-9_-]*' "$src" | sed -n "${1}p"; }
t1=$(tok 1); t2=$(tok 2)
# A token edited in its middle.
sed "s/${t1}/${t1:0:20}A${t1:21}/" "$src" > "$i/edited-token.json"
# Two tokens swapped between keys.
sed "s/${t1}/@@/; s/${t2}/${t1}/; s/@@/${t2}/" "$src" > "$i/swapped-tokens.json"
# A value removed.
grep -v '"port":' "$src" > "$i/removed-value.json"
# The recipient list edited.
sed "s/\"recipient\": \"age1/\"recipient\": \"age1x/" "$src" > "$i/edited-recipient.json"
# The modification time edited.
sed 's/"modified": "2/"modified": "1/' "$src" > "$i/edited-modified.json"
# Truncated in the middle.
head -c $(( $(wc -c < "$src") / 2 )) "$src" > "$i/truncated.json"
# An unknown future version.
sed 's/"version": 1/"version": 6/' "$src" > "$i/unknown-version.json"
# A comment changed in a sealed YAML file (the MAC covers the whole body).
sed 's/# inline comment/# inline c0mment/' "$v/config.sealed.yaml" > "$i/edited-comment.yaml"
# A plaintext (unselected) value changed in a selective file.
sed 's/namespace: prod/namespace: evil/' "$v/k8s.sealed.yaml" > "$i/edited-plain-value.yaml"
# A dotenv value line removed.
grep -v '^API_KEY=' "$v/app.sealed.env" > "$i/removed-line.env"
# A comment added inside the metadata block: no field changes, so the MAC
# still holds; the block layout check (section 9) refuses it.
sed 's/^seal:$/seal:\n  # a comment someone added to the block/' "$v/config.sealed.yaml" > "$i/comment-in-metadata-block.yaml"
# TOML: the construct tour and a selective file; invalid cases from it.
# (seal 0.1 had no TOML: these version-1 files were written by the TOML
# branch before format 2, and are kept like the valid-mac-* files.)
cp testdata/roundtrip/tricky.toml "$v/config.plain.toml"
printf '[package]\nname = "svc"\n\n[database]\nurl = "postgres://u:hunter2@db/app"\nport = 5432\n' > "$v/selective.plain.toml"
"$seal" encrypt -r "$pub" -o "$v/config.sealed.toml" "$v/config.plain.toml"
"$seal" encrypt -r "$pub" --encrypt 'database.*' -o "$v/selective.sealed.toml" "$v/selective.plain.toml"
src="$v/config.sealed.toml"
t1=$(tok 1); t2=$(tok 2)
sed "s/${t1}/${t1:0:20}A${t1:21}/" "$src" > "$i/edited-token.toml"
sed "s/${t1}/@@/; s/${t2}/${t1}/; s/@@/${t2}/" "$src" > "$i/swapped-tokens.toml"
grep -v '^octal = ' "$src" > "$i/removed-value.toml"
sed 's/{ recipient = "age1/{ recipient = "age1x/' "$src" > "$i/edited-recipient.toml"
sed 's/# trailing comment/# trailing c0mment/' "$src" > "$i/edited-comment.toml"
head -c $(( $(wc -c < "$src") / 2 )) "$src" > "$i/truncated.toml"
# A version far in the future (2 is the next one).
sed 's/^version = 1$/version = 9/' "$src" > "$i/unknown-version.toml"
sed 's/^\[seal\]$/[seal]\n# a comment someone added to the block/' "$src" > "$i/comment-in-metadata-block.toml"
sed 's/^name = "svc"/name = "evil"/' "$v/selective.sealed.toml" > "$i/edited-plain-value.toml"
for f in "$i"/[!v]* "$i"/valid-mac-[!v]*; do
  if "$seal" decrypt "$f" >/dev/null 2>&1; then echo "invalid vector $f was accepted" >&2; exit 1; fi
done
ls -1 "$v" "$i"
