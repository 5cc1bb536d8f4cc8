#!/usr/bin/env bash
# seal status on a repository of 1,000 sealed files holding 10,000 values.
#
#   scripts/bench-status.sh          1,000 dotenv files of 10 values each
#   scripts/bench-status.sh FILES    another number of files (at least 10)
#
# Builds two git repositories with a `.seal.yaml` policy covering every
# value and three commits of history (all files sealed, then a tenth of
# them with one value changed, twice):
#
#   v2  files written by this seal: every date is in the metadata;
#   v1  the same files as format version 1 (no dates: `changed` removed and
#       the MAC recomputed by scripts/remac.py, as seal 0.1 wrote them), so
#       every date comes from the git history (one `git log`, one
#       `git cat-file --batch`).
#
# Then times `seal status --all --json` in each (median wall time of 7
# runs after a warm-up) and checks the v1 run found a date for every value.
# Needs git, python3 and the age CLI. Works under target/bench-status/
# (override with BENCH_DIR). Honours CARGO_TARGET_DIR.
set -euo pipefail

bench_name=bench-status
source "$(dirname "$0")/lib/bench-common.sh"

files="${1:-1000}"
[[ "$files" =~ ^[0-9]+$ && "$files" -ge 10 ]] || die "usage: $0 [FILES>=10]"

work="$(bench_work_dir bench-status)"

# age comes with scripts/install-test-deps.sh.
require_tools git python3 age
build_seal

fresh_dir "$work"
SEAL="$seal_bin" WORK="$work" FILES="$files" REMAC="$repo/scripts/remac.py" python3 - <<'PY'
import json, os, random, re, statistics, subprocess, sys, time

seal, work, total, remac = os.environ["SEAL"], os.environ["WORK"], int(os.environ["FILES"]), os.environ["REMAC"]
rng = random.Random(14)
ident = os.path.join(work, "identity.txt")
subprocess.run([seal, "keygen", "-o", ident], check=True, capture_output=True)
public = subprocess.run([seal, "keygen", "-y", ident], check=True, capture_output=True, text=True).stdout.strip()
env = dict(os.environ, SEAL_IDENTITY_FILE=ident, GIT_CONFIG_NOSYSTEM="1", HOME=work)

def git(root, *args, date=None):
    e = dict(env)
    if date:
        e.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "-C", root, *args], check=True, capture_output=True, env=e)

def to_v1(path):
    text = open(path).read()
    text = "".join(l for l in text.splitlines(True) if not l.startswith("# seal: changed="))
    text = text.replace("# seal: version=2\n", "# seal: version=1\n")
    open(path, "w").write(text)
    subprocess.run([sys.executable, remac, ident, path], check=True, env=env)

def build(name, v1):
    root = os.path.join(work, name)
    os.makedirs(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Bench")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "commit.gpgsign", "false")
    with open(os.path.join(root, ".seal.yaml"), "w") as f:
        f.write(f"recipients:\n  bench: {public}\nrules:\n  - path: \"**\"\n    recipients: [bench]\n"
                "policy:\n  - rotate_every: 90d\n    owner: ops\n  - path: \"svc0*/**\"\n    keys: [\"KEY_0\"]\n    tier: critical\n")
    paths = []
    for i in range(total):
        d = os.path.join(root, f"svc{i % 50:02d}")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"app{i:04d}.env")
        with open(p, "w") as f:
            for k in range(10):
                f.write(f"KEY_{k}=" + "".join(rng.choice("abcdef0123456789") for _ in range(32)) + "\n")
        subprocess.run([seal, "encrypt", "--in-place", p], check=True, capture_output=True, env=dict(env, SEAL_TEST_NOW="2026-01-01T00:00:00Z"))
        if v1:
            to_v1(p)
        paths.append(p)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "sealed", date="2026-01-01T00:00:00Z")
    for step, date in enumerate(["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]):
        for p in rng.sample(paths, max(1, total // 10)):
            subprocess.run([seal, "set", p, f"KEY_{step}", "changed-%d" % rng.randrange(10**9)],
                           check=True, capture_output=True, env=dict(env, SEAL_TEST_NOW=date))
            if v1:
                to_v1(p)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"change {step}", date=date)
    return root

results = {}
for name, v1 in [("v2", False), ("v1", True)]:
    print(f"bench-status: building the {name} repository ({total} files)", file=sys.stderr)
    root = build(name, v1)
    cmd = [seal, "status", "--all", "--json"]
    run_env = dict(env, SEAL_TEST_NOW="2026-04-15T00:00:00Z")
    out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, env=run_env).stdout
    rows = json.loads(out)
    assert len(rows) == total * 10, (name, len(rows))
    undated = sum(1 for r in rows if r["last_changed"] is None)
    assert undated == 0, f"{name}: {undated} values without a date"
    states = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    times = []
    for i in range(8):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL, env=run_env)
        if i:
            times.append((time.perf_counter() - t) * 1000)
    results[name] = (statistics.median(times), states)

print(f"| files | values | dates from | seal status --all --json (median of 7) | states |")
print(f"|---:|---:|---|---:|---|")
for name, label in [("v2", "metadata (format 2)"), ("v1", "git history (format 1)")]:
    ms, states = results[name]
    s = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    print(f"| {total:,} | {total * 10:,} | {label} | {ms:.0f} ms | {s} |")
PY
