#!/usr/bin/env bash
# Regenerate the signature vectors (spec/FORMAT.md sections 11 and 12):
# testdata/vectors/signed.* (valid, signed by testdata/vectors/signer.ed25519)
# and testdata/vectors/invalid-signature/ (they open, and their signature
# must not verify). Like the other vectors they are meant to be stable:
# run this only when the signature format changes, and commit the result.
# The test keys are public; never use them for real.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
seal="${CARGO_TARGET_DIR:-$PWD/target}/debug/seal"
v=testdata/vectors
pub=$("$seal" keygen -y "$v/identity.txt")
export SEAL_IDENTITY_FILE="$PWD/$v/identity.txt" SSH_AUTH_SOCK=
for k in signer other; do
  [ -f "$v/$k.ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$k@seal.test" -f "$v/$k.ed25519"
done
export SEAL_SIGNING_KEY="$PWD/$v/signer.ed25519"

printf 'database:\n  user: app\n  password: "s3cr3t"  # rotate\n' > "$v/signed.plain.yaml"
printf '{\n  "api": {"key": "sk-test-1", "port": 8080}\n}\n' > "$v/signed.plain.json"
printf '# signed\nAPI_KEY=sk-test-2\nDEBUG=false\n' > "$v/signed.plain.env"
for ext in yaml json env; do
  "$seal" encrypt -r "$pub" -o "$v/signed.sealed.$ext" "$v/signed.plain.$ext"
done

i="$v/invalid-signature"
rm -rf "$i"
mkdir -p "$i"
python3 - "$v" "$i" "$PWD/$v/other.ed25519.pub" <<'PY'
import re, sys
v, i, other = sys.argv[1:]
other = open(other).read().strip()
# The signer field names another key; the signature is the real signer's.
y = open(f"{v}/signed.sealed.yaml").read()
y = re.sub(r'(?m)^  signer: ".*"$', f'  signer: "{other}"', y)
open(f"{i}/forged-signer.yaml", "w").write(y)
# One character of the signature proper (the blob's last bytes) changed.
e = open(f"{v}/signed.sealed.env").read().split("\n")
n = [k for k, l in enumerate(e) if l.startswith("# seal: signature=") and "-----" not in l][-1]
line = e[n]
at = len("# seal: signature=") + 4
e[n] = line[:at] + ("A" if line[at] != "A" else "B") + line[at + 1:]
open(f"{i}/tampered-signature.env", "w").write("\n".join(e))
PY
# A valid signature of older content: the signature fields of the file
# before `seal set`, on the file after it (whose MAC is valid).
cp "$v/signed.sealed.json" "$i/older-content.json"
old_signature=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["seal"]["signature"]))' "$i/older-content.json")
"$seal" set "$i/older-content.json" api.port --raw 9090
python3 - "$i/older-content.json" "$old_signature" <<'PY'
import json, re, sys
path, old = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'"signature": "(?:[^"\\]|\\.)*"', lambda m: f'"signature": {old}', text)
open(path, "w").write(text)
PY
# Signature fields in a version-1 file: refused when read (section 6.1).
sed 's/^# seal: version=2$/# seal: version=1/' "$v/signed.sealed.env" > "$v/invalid/signature-in-version-1.env"

for f in "$i"/*; do
  "$seal" decrypt "$f" >/dev/null
  if "$seal" verify "$f" >/dev/null; then echo "signature vector $f verified" >&2; exit 1; fi
done
if "$seal" decrypt "$v/invalid/signature-in-version-1.env" >/dev/null 2>&1; then exit 1; fi
"$seal" verify "$v"/signed.sealed.*
