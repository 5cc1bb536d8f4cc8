#!/usr/bin/env bash
# Build seal, seal a real config file, show what git would store, change one
# value and open it again. Runs in a temporary directory; leaves nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
seal="$PWD/target/release/seal"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp examples/app.yaml "$work/app.yaml"
cd "$work"

public=$("$seal" keygen -o identity.txt 2>/dev/null)
export SEAL_IDENTITY_FILE="$work/identity.txt"
echo "== a new identity; its public key: $public"

"$seal" encrypt --in-place -r "$public" app.yaml
echo "== app.yaml sealed in place (this is what git stores):"
cat app.yaml

echo "== seal get app.yaml database.password:"
"$seal" get app.yaml database.password

cp app.yaml before.yaml
"$seal" set app.yaml stripe.secret_key sk_live_rotated
echo "== after seal set stripe.secret_key, the diff of the sealed file:"
diff before.yaml app.yaml || true

"$seal" set app.yaml stripe.secret_key sk_live_51Hh2exampleSECRET
"$seal" decrypt app.yaml > roundtrip.yaml
cmp roundtrip.yaml "$OLDPWD/examples/app.yaml"
echo "== decrypt gives back examples/app.yaml byte for byte"
"$seal" info app.yaml
