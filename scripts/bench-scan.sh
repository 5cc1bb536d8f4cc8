#!/usr/bin/env bash
# seal scan against detect-secrets (PyPI `detect-secrets`) on the same tree.
#
#   scripts/bench-scan.sh          10,000 files (20 planted secrets per kind)
#   scripts/bench-scan.sh FILES    another size (at least 500)
#
# Builds a git repository with planted secrets of every kind `seal scan`
# claims (tokens, PEM keys, JWTs, AWS key pairs, passwords in YAML, JSON,
# dotenv, shell and source files) plus decoys that are not secrets: UUIDs,
# lockfile hashes, base64 images, minified JavaScript, placeholders, files
# sealed by seal, and plain source files to make up the count. Then runs
# `seal scan --json .` and `detect-secrets scan` (which, like seal, scans
# the files git tracks), and prints, per kind, how many planted secrets
# each tool reported, how many findings were not planted (false
# positives), and the wall time of each run.
#
# A planted secret counts as found when the tool reports any finding on one
# of its lines. Needs git, python3 and pip (detect-secrets is installed
# with pip when missing). Works under target/bench-scan/ (override with
# BENCH_DIR). Honours CARGO_TARGET_DIR.
set -euo pipefail

bench_name=bench-scan
source "$(dirname "$0")/lib/bench-common.sh"

files="${1:-10000}"
[[ "$files" =~ ^[0-9]+$ && "$files" -ge 500 ]] || die "usage: $0 [FILES>=500]"

work="$(bench_work_dir bench-scan)"

require_tools git python3
if ! command -v detect-secrets >/dev/null; then
  log "installing detect-secrets with pip"
  python3 -m pip install --quiet detect-secrets || die "pip install detect-secrets failed"
fi
build_seal

fresh_dir "$work"
SEAL="$seal_bin" WORK="$work" FILES="$files" python3 - <<'PY'
import base64, json, os, random, subprocess, sys, time, uuid

seal, work, total = os.environ["SEAL"], os.environ["WORK"], int(os.environ["FILES"])
tree = os.path.join(work, "tree")
os.makedirs(tree)
rng = random.Random(15)
B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"

def rand(n, alphabet=B62):
    return "".join(rng.choice(alphabet) for _ in range(n))

def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

def jwt():
    head = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(json.dumps({"sub": rand(10), "iat": rng.randrange(10**9, 2 * 10**9)}).encode())
    return f"{head}.{body}.{b64url(bytes(rng.randrange(256) for _ in range(32)))}"

def pem(kind):
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(600))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    label = f"{kind} PRIVATE KEY" if kind else "PRIVATE KEY"
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])

# kind -> a function giving the secret text (one line unless noted)
TOKENS = {
    "anthropic": lambda: f"sk-ant-api03-{rand(93, B62 + '-_')}AA",
    "openai": lambda: f"sk-{rand(20)}T3BlbkFJ{rand(20)}",
    "openai-proj": lambda: f"sk-proj-{rand(156, B62 + '-_')}",
    "github-ghp": lambda: f"ghp_{rand(36)}",
    "github-gho": lambda: f"gho_{rand(36)}",
    "github-ghs": lambda: f"ghs_{rand(36)}",
    "github-pat": lambda: f"github_pat_{rand(22)}_{rand(59)}",
    "gitlab": lambda: f"glpat-{rand(20, B62 + '-_')}",
    "slack": lambda: f"xox{rng.choice('abpr')}-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-{rand(24)}",
    "stripe-sk": lambda: f"sk_live_{rand(99)}",
    "stripe-rk": lambda: f"rk_live_{rand(99)}",
    "supabase": lambda: f"sbp_{rand(40, HEX)}",
    "digitalocean": lambda: f"dop_v1_{rand(64, HEX)}",
    "google": lambda: f"AIza{rand(35, B62 + '-_')}",
    "jwt": jwt,
}
NAMES = ["API_KEY", "TOKEN", "AUTH_TOKEN", "SECRET", "ACCESS_TOKEN", "SERVICE_TOKEN"]

planted = []  # (kind, file, [lines])
files = {}    # path -> text

def plant(kind, path, text, lines):
    files[path] = text
    planted.append((kind, path, lines))

n_per_kind = 20
for kind, make in TOKENS.items():
    for i in range(n_per_kind):
        tok, name = make(), rng.choice(NAMES)
        style = i % 6
        if style == 0:
            plant(kind, f"config/{kind}-{i}.yaml", f"service:\n  url: https://api.internal\n  {name.lower()}: {tok}\n", [3])
        elif style == 1:
            plant(kind, f"config/{kind}-{i}.json", json.dumps({"service": {"url": "https://api.internal", name.lower(): tok}}, indent=2) + "\n", [4])
        elif style == 2:
            plant(kind, f"env/{kind}-{i}.env", f"DEBUG=false\n{name}={tok}\n", [2])
        elif style == 3:
            plant(kind, f"scripts/{kind}-{i}.sh", f"#!/bin/sh\nexport {name}='{tok}'\nexec ./run\n", [2])
        elif style == 4:
            plant(kind, f"src/{kind}_{i}.py", f"import client\n\nclient.connect(\"{tok}\")\n", [3])
        else:
            plant(kind, f"web/{kind}-{i}.js", f"const c = new Client({{ url: '/api' }});\nc.auth('{tok}');\n", [2])

for i in range(n_per_kind):
    kid = ("AKIA" if i % 2 == 0 else "ASIA") + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    secret = rand(40, B62 + "+/")
    kind = "aws-akia" if i % 2 == 0 else "aws-asia"
    if i % 4 < 2:
        plant(kind, f"aws/credentials-{i}", f"[default]\naws_access_key_id = {kid}\naws_secret_access_key = {secret}\n", [2, 3])
    else:
        plant(kind, f"aws/deploy-{i}.sh", f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={kid}\nexport AWS_SECRET_ACCESS_KEY={secret}\naws s3 ls\n", [2, 3])
for i in range(n_per_kind):
    key = pem(["RSA", "EC", "OPENSSH", ""][i % 4])
    if i % 2 == 0:
        plant("private-key", f"keys/id-{i}.pem", key + "\n", [1])
    else:
        plant("private-key", f"config/tls-{i}.json", json.dumps({"tls": {"key": key + "\n"}}, indent=2) + "\n", [3])
PW_NAMES = ["password", "db_password", "client_secret", "api_key", "secret_key", "passwd"]
for i in range(n_per_kind * 3):
    pw, name = rand(rng.randrange(16, 33), B62 + "!#%+-_"), PW_NAMES[i % len(PW_NAMES)]
    style = i % 5
    if style == 0:
        plant("password", f"config/db-{i}.yaml", f"database:\n  host: db.internal\n  {name}: \"{pw}\"\n", [3])
    elif style == 1:
        plant("password", f"config/db-{i}.json", json.dumps({"database": {"host": "db.internal", name: pw}}, indent=2) + "\n", [4])
    elif style == 2:
        plant("password", f"env/db-{i}.env", f"DB_HOST=db.internal\n{name.upper()}={pw}\n", [2])
    elif style == 3:
        plant("password", f"scripts/db-{i}.sh", f"#!/bin/sh\n{name.upper()}='{pw}'\npsql -h db\n", [2])
    else:
        plant("password", f"src/db_{i}.py", f"import db\n\n{name} = \"{pw}\"\ndb.connect(password={name})\n", [3])

# Decoys: nothing here is a secret.
decoys = {}
for i in range(200):
    decoys[f"decoy/ids-{i}.yaml"] = "".join(f"- id: {uuid.UUID(int=rng.getrandbits(128))}\n  request_id: {uuid.UUID(int=rng.getrandbits(128))}\n" for _ in range(5))
for i in range(20):
    deps = {f"pkg-{j}": {"version": f"1.{j}.0", "resolved": f"https://registry.npmjs.org/pkg-{j}/-/pkg-{j}-1.{j}.0.tgz",
            "integrity": "sha512-" + base64.b64encode(bytes(rng.randrange(256) for _ in range(64))).decode()} for j in range(200)}
    decoys[f"decoy/lock-{i}/package-lock.json"] = json.dumps({"name": "app", "lockfileVersion": 3, "packages": deps}, indent=2) + "\n"
    decoys[f"decoy/lock-{i}/Cargo.lock"] = "".join(
        f'[[package]]\nname = "crate-{j}"\nversion = "0.{j}.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "{rand(64, HEX)}"\n\n' for j in range(200))
    decoys[f"decoy/lock-{i}/yarn.lock"] = "".join(
        f'pkg-{j}@^1.0.0:\n  version "1.{j}.0"\n  resolved "https://registry.yarnpkg.com/pkg-{j}/-/pkg-{j}-1.{j}.0.tgz#{rand(40, HEX)}"\n  integrity sha1-{base64.b64encode(bytes(rng.randrange(256) for _ in range(20))).decode()}\n\n' for j in range(100))
for i in range(50):
    img = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(3000))).decode()
    decoys[f"decoy/img-{i}.css"] = f".logo {{ background: url(data:image/png;base64,{img}); }}\n"
    decoys[f"decoy/img-{i}.md"] = f"# Logo\n\n![logo](data:image/png;base64,{img})\n"
for i in range(30):
    parts = [f"function {rand(2, 'abcdefghijklmnopqrstuvwxyz')}(e,t){{var n=e.token||t.key;return n?'{rand(24)}':null}}" for _ in range(400)]
    decoys[f"decoy/bundle-{i}.min.js"] = ";".join(parts) + "\n"
PLACEHOLDERS = ["your_api_key_here", "sk-ant-...", "<token>", "changeme", "xxxxxxxxxxxxxxxx", "${DB_PASSWORD}", "REPLACE_ME", "<your-token>"]
for i in range(100):
    ph = PLACEHOLDERS[i % len(PLACEHOLDERS)]
    decoys[f"decoy/example-{i}.env"] = f"API_KEY={ph}\nPASSWORD={ph}\n"
    decoys[f"decoy/example-{i}.yaml"] = f"auth:\n  token: \"{ph}\"\n  password: {ph}\n"
for i in range(100):
    decoys[f"decoy/hashes-{i}.txt"] = "".join(f"{rand(40, HEX)}  commit {j}\n" for j in range(5)) + f"color: #{rand(6, HEX)}\n"
for path, text in {**files, **decoys}.items():
    full = os.path.join(tree, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)

# Sealed files: real seal output, tokens and metadata.
home = os.path.join(work, "home")
os.makedirs(home)
env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config")}
ident = os.path.join(work, "identity.txt")
subprocess.run([seal, "keygen", "-o", ident], check=True, env=env, capture_output=True)
pub = subprocess.run([seal, "keygen", "-y", ident], check=True, env=env, capture_output=True, text=True).stdout.strip()
for i in range(60):
    ext = ["yaml", "json", "env"][i % 3]
    path = os.path.join(tree, "sealed", f"secrets-{i}.{ext}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pw, tok = rand(24), TOKENS["github-ghp"]()
    text = {"yaml": f"db:\n  password: {pw}\napi_key: {tok}\n",
            "json": json.dumps({"db": {"password": pw}, "api_key": tok}, indent=2) + "\n",
            "env": f"DB_PASSWORD={pw}\nAPI_KEY={tok}\n"}[ext]
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([seal, "encrypt", "-r", pub, "--in-place", path], check=True, env=env, capture_output=True)

# Filler: ordinary source files up to the requested count.
count = sum(len(fs) for _, _, fs in os.walk(tree))
i = 0
while count < total:
    d = os.path.join(tree, "app", f"m{i // 100}")
    os.makedirs(d, exist_ok=True)
    name = rng.choice(["handler", "service", "model", "util", "view"])
    with open(os.path.join(d, f"{name}_{i}.py"), "w") as f:
        f.write(f'"""The {name} module {i}."""\nimport os\n\n\ndef {name}_{i}(request, token=None):\n'
                f'    key = os.environ.get("API_KEY")\n    return {{"id": "{uuid.UUID(int=rng.getrandbits(128))}", "token": token, "key": key}}\n')
    count += 1
    i += 1

git = lambda *a: subprocess.run(["git", *a], cwd=tree, check=True, capture_output=True, env={**env, "GIT_CONFIG_NOSYSTEM": "1"})
git("init", "-q", "-b", "main")
git("add", "-A")
git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "tree")
print(f"bench-scan: {count} files, {len(planted)} planted secrets, {len(decoys) + 60} decoy files", file=sys.stderr)

def timed(cmd):
    best, out = None, None
    for _ in range(3):
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t
        best, out = (dt, p) if best is None or dt < best else (best, out)
    return best, out

seal_time, sp = timed([seal, "scan", "--json", "."])
if sp.returncode not in (0, 1):
    sys.exit(f"seal scan failed: {sp.stderr}")
seal_hits = {(f["file"], f["line"]) for f in json.loads(sp.stdout)}
ds_time, dp = timed(["detect-secrets", "scan"])
if dp.returncode != 0:
    sys.exit(f"detect-secrets failed: {dp.stderr}")
ds_hits = {(path, r["line_number"]) for path, rs in json.loads(dp.stdout)["results"].items() for r in rs}

planted_lines = {(p, l) for _, p, ls in planted for l in ls}
kinds = {}
for kind, path, lines in planted:
    k = kinds.setdefault(kind, [0, 0, 0])
    k[0] += 1
    k[1] += any((path, l) in seal_hits for l in lines)
    k[2] += any((path, l) in ds_hits for l in lines)
print(f"{'kind':<14} {'planted':>7} {'seal':>6} {'detect-secrets':>15}")
for kind, (n, s, d) in kinds.items():
    print(f"{kind:<14} {n:>7} {s:>6} {d:>15}")
tot = [sum(v[i] for v in kinds.values()) for i in range(3)]
print(f"{'all':<14} {tot[0]:>7} {tot[1]:>6} {tot[2]:>15}")
missed = [path for _, path, lines in planted if not any((path, l) in seal_hits for l in lines)]
if missed:
    print(f"missed by seal: {', '.join(missed[:10])}")
seal_fp = sorted(seal_hits - planted_lines)
ds_fp = sorted(ds_hits - planted_lines)
print(f"false positives: seal {len(seal_fp)}, detect-secrets {len(ds_fp)}")
def by_dir(fps):
    out = {}
    for p, _ in fps:
        key = p.split("/")[0] + "/" + (p.split("/")[1].split("-")[0] if "/" in p else "")
        out[key] = out.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(out.items(), key=lambda kv: -kv[1])[:8])
if seal_fp:
    print(f"  seal: {by_dir(seal_fp)}")
if ds_fp:
    print(f"  detect-secrets: {by_dir(ds_fp)}")
print(f"time (best of 3): seal {seal_time:.3f} s, detect-secrets {ds_time:.3f} s ({ds_time / seal_time:.0f}x)")
PY
