#!/usr/bin/python3
"""Synthesize N tracked requests for the benchmarks from one real state file.

    synth-state.py TEMPLATE.json STATE_DIR OUT_DIR N PREFIX due|idle|new [KEY_DIR]

Each copy gets its own id (PREFIX00001...), cert_file/chain_file in OUT_DIR
and, with KEY_DIR (file store), its own copy of the template's key. "due":
not_before/not_after moved so the renewal time has passed; "idle": the
template's real validity (nothing due for months). "new": not enrolled yet
(NEED_KEY, no key, no certificate): the daemon enrolls them all at start-up
(a config holds at most 32 profiles; this is how to get 100 at once).
"""
import hashlib
import json
import os
import shutil
import sys
import time

tmpl_path, state_dir, out_dir, n, prefix, mode = sys.argv[1:7]
key_dir = sys.argv[7] if len(sys.argv) > 7 else None
n = int(n)
with open(tmpl_path) as f:
    tmpl = json.load(f)
now = int(time.time())
os.makedirs(state_dir, exist_ok=True)
for i in range(1, n + 1):
    rid = "%s%05d" % (prefix, i)
    r = dict(tmpl)
    r["id"] = rid
    r["state"] = "MONITORING"
    r["cert_file"] = os.path.join(out_dir, rid + ".pem")
    r["chain_file"] = os.path.join(out_dir, rid + "-chain.pem")
    r["attempts"] = 0
    r["next_action"] = 0
    r["next_action_usec"] = 0
    for k in ("last_error", "new_key_ref", "new_key_id", "new_cert_pem", "new_chain_pem",
              "retired_key_ref", "transaction"):
        r.pop(k, None)
    r["renewing"] = 0
    if mode == "due":
        r["not_before"] = now - 100000
        r["not_after"] = now + 3600
    if mode == "new":
        r["state"] = "NEED_KEY"
        for k in ("key_ref", "cert_pem", "chain_pem", "serial", "not_before", "not_after", "last_success"):
            r.pop(k, None)
    if key_dir and mode != "new":
        ref = hashlib.sha1(rid.encode()).hexdigest()
        shutil.copyfile(os.path.join(key_dir, tmpl["key_ref"] + ".key"), os.path.join(key_dir, ref + ".key"))
        os.chmod(os.path.join(key_dir, ref + ".key"), 0o600)
        r["key_ref"] = ref
    p = os.path.join(state_dir, rid + ".json")
    with open(p, "w") as f:
        json.dump(r, f, indent=2)
    os.chmod(p, 0o600)
