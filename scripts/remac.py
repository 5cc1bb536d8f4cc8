#!/usr/bin/env python3
"""Recompute the MAC of a sealed dotenv file (spec/FORMAT.md section 9),
independently of seal: for making the valid-mac-* test vectors, whose
edits must pass the MAC so that only the check they name refuses them.

usage: remac.py IDENTITY FILE  (rewrites FILE's mac line; needs `age`)
"""
import base64, hashlib, hmac, subprocess, sys

def lp(b):
    return len(b).to_bytes(8, "big") + b

def hkdf(ikm, info):
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()

identity, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
start = text.index("# seal: version=")
body, block = text[:start], text[start:]
fields = [l[len("# seal: "):].split("=", 1) for l in block.splitlines()]
version = int(fields[0][1])
modified = next(v for k, v in fields if k == "modified")
encrypt = [v for k, v in fields if k == "encrypt"]
changed = [v.rsplit(" ", 1) for k, v in fields if k == "changed"]
recipients = []
for k, v in fields:
    if k == "recipient":
        recipients.append([v, ""])
    elif k == "data_key":
        recipients[-1][1] += v + "\n"
key = subprocess.run(["age", "-d", "-i", identity], input=recipients[0][1].encode(),
                     capture_output=True, check=True).stdout
m = lp(b"seal.v%d mac" % version) + lp(b"dotenv") + version.to_bytes(8, "big")
m += lp(modified.encode()) + len(encrypt).to_bytes(8, "big")
m += b"".join(lp(p.encode()) for p in encrypt)
m += len(recipients).to_bytes(8, "big")
m += b"".join(lp(r.encode()) + lp(d.encode()) for r, d in recipients)
if version >= 2 and changed:
    m += lp(b"changed") + len(changed).to_bytes(8, "big")
    m += b"".join(lp(p.encode()) + lp(d.encode()) for p, d in changed)
m += lp(body.replace("\r\n", "\n").encode())
mac = hmac.new(hkdf(key, b"seal.v1 mac key"), m, hashlib.sha256).digest()
mac = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
old = next(v for k, v in fields if k == "mac")
open(path, "w", encoding="utf-8").write(text.replace("# seal: mac=" + old, "# seal: mac=" + mac))
