#!/usr/bin/env bash
# Regenerate testdata/vectors (spec/FORMAT.md section 11). Vectors are
# meant to be stable: only run this when the format version changes, and
# commit the result. The test identity is public; never use it for real.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
seal="$PWD/target/debug/seal"
v=testdata/vectors
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
find "$i" -type f ! -name 'valid-mac-*' -delete
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
sed 's/"version": 1/"version": 3/' "$src" > "$i/unknown-version.json"
# A comment changed in a sealed YAML file (the MAC covers the whole body).
sed 's/# inline comment/# inline c0mment/' "$v/config.sealed.yaml" > "$i/edited-comment.yaml"
# A plaintext (unselected) value changed in a selective file.
sed 's/namespace: prod/namespace: evil/' "$v/k8s.sealed.yaml" > "$i/edited-plain-value.yaml"
# A dotenv value line removed.
grep -v '^API_KEY=' "$v/app.sealed.env" > "$i/removed-line.env"
# A comment added inside the metadata block: no field changes, so the MAC
# still holds; the block layout check (section 9) refuses it.
sed 's/^seal:$/seal:\n  # a comment someone added to the block/' "$v/config.sealed.yaml" > "$i/comment-in-metadata-block.yaml"
for f in "$i"/*; do
  if "$seal" decrypt "$f" >/dev/null 2>&1; then echo "invalid vector $f was accepted" >&2; exit 1; fi
done
ls -1 "$v" "$i"
