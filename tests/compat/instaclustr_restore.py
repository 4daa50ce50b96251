"""Acts as an Instaclustr provisioning script against Coffer: HTTP Basic the non-preemptive way
(urllib sends credentials only after the 401 challenge, as the Java demo client does), a backup,
more data, a second backup, then a restore to a new cluster at a point in time between the two
with a keyspaceTables subset, polled until RUNNING. Prints what it saw as JSON.

usage: instaclustr_restore.py BASE USER PASSWORD CLUSTER_ID NODE_DIR NODE_DIR NODE_DIR
"""
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

base, user, password, cluster = sys.argv[1:5]
node_dirs = sys.argv[5:8]
out = {"challenges": 0}

passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
passwords.add_password(None, base, user, password)


class CountingBasicAuth(urllib.request.HTTPBasicAuthHandler):
    def http_error_401(self, req, fp, code, msg, headers):
        out["challenges"] += 1
        return super().http_error_401(req, fp, code, msg, headers)


opener = urllib.request.build_opener(CountingBasicAuth(passwords))


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"} if data else {})
    try:
        with opener.open(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def fingerprint(root):
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                found[os.path.relpath(os.path.join(dirpath, name), root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def backup(expected_events):
    status, _ = call("POST", "/provisioning/v1/%s/backups" % cluster, {})
    assert status == 204, status
    for _ in range(400):
        _, events = call("GET", "/provisioning/v1/%s/backups" % cluster)
        nodes = [n for dc in events["clusterDataCentres"] for n in dc["nodes"]]
        if all(len(n["events"]) == expected_events and n["events"][-1]["state"] == "COMPLETED" for n in nodes):
            return [n["events"][-1]["progress"] for n in nodes]
        time.sleep(0.05)
    raise SystemExit("the backup never completed")


status, doc = call("GET", "/provisioning/v1/%s" % cluster)
out["status"] = [status, doc["clusterStatus"], sum(len(dc["nodes"]) for dc in doc["dataCentres"])]
out["first_backup"] = backup(1)
first = [fingerprint(os.path.join(d, "Keyspace1")) for d in node_dirs]
time.sleep(1.1)
between = int(time.time() * 1000)
time.sleep(1.1)
for d in node_dirs:
    users = os.path.join(d, "Keyspace1", next(t for t in os.listdir(os.path.join(d, "Keyspace1")) if t.startswith("users")))
    with open(os.path.join(users, "nb-7-big-Data.db"), "wb") as f:
        f.write(b"written after the first backup")
out["second_backup"] = backup(2)
today = [fingerprint(os.path.join(d, "Keyspace1")) for d in node_dirs]

status, restored = call("POST", "/provisioning/v1/%s/backups/restore" % cluster, {"clusterNameOverride": "restored-by-script", "pointInTime": between, "keyspaceTables": "Keyspace1.users"})
out["restore"] = status
new_id = restored["restoredCluster"]
states = []
for _ in range(400):
    status, doc = call("GET", "/provisioning/v1/%s" % new_id)
    states.append([status, doc["clusterStatus"]])
    if doc["clusterStatus"] != "PROVISIONING":
        break
    time.sleep(0.05)
out["restored_status"] = states[-1]

_, source = call("GET", "/admin/v1/sources/%s" % new_id)
exact = True
for i, node in enumerate(source["nodes"]):
    got = fingerprint(os.path.join(node["location"], "Keyspace1"))
    want = {k: v for k, v in first[i].items() if k.startswith("users-")}
    exact = exact and got == want
out["restored_exact"] = exact
out["original_untouched"] = [fingerprint(os.path.join(d, "Keyspace1")) for d in node_dirs] == today
print(json.dumps(out))
