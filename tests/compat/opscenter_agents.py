"""Drives Coffer's OpsCenter API the way the public OpsCenter backup scripts do (python requests,
a form login, the session sometimes as the opscenter-session header and sometimes as the
TWISTED_SESSION cookie), against a 3-node cluster whose nodes are served by three `coffer agent`
processes, with an S3 destination on a moto server. Prints what it saw as JSON.

usage: opscenter_agents.py BASE USER PASSWORD S3_ENDPOINT NODE_DIR NODE_DIR NODE_DIR
"""
import hashlib
import json
import os
import sys
import time

import boto3
import requests

base, user, password, s3_endpoint = sys.argv[1:5]
node_dirs = sys.argv[5:8]
out = {}
TABLES = [("Keyspace1", "users-0123456789abcdef0123456789abcdef"), ("Keyspace1", "dates-89abcdef0123456789abcdef01234567"), ("OpsCenter", "events-fedcba9876543210fedcba9876543210")]


def fingerprint(root):
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def table_dir(node, ks, prefix):
    return os.path.join(node, ks, next(t for k, t in TABLES if k == ks and t.startswith(prefix)))


for n, node in enumerate(node_dirs):
    for ks, table in TABLES:
        os.makedirs(os.path.join(node, ks, table), exist_ok=True)
        for generation in range(4):
            with open(os.path.join(node, ks, table, "nb-%d-big-Data.db" % generation), "wb") as f:
                f.write(os.urandom(384 * 1024))

login = requests.post(base + "/login", data={"username": user, "password": password})
session = login.json()["sessionid"]
header = {"opscenter-session": session, "Accept": "application/json"}
cookie = {"TWISTED_SESSION": session}


def poll(request_id, seen=None):
    if not isinstance(request_id, str):
        raise SystemExit("expected a request id, got %r" % (request_id,))
    for _ in range(600):
        status = requests.get(base + "/request/%s/status" % request_id, headers=header).json()
        if seen is not None:
            done = sum(t["done_files"] for sub in status["details"]["subrequests"].values() for ks in sub["details"]["sstables"].values() for t in ks.values())
            seen.append(done)
        if status["state"] != "running":
            return status
        time.sleep(0.05)
    raise SystemExit("request %s never ended" % request_id)


nodes = [{"name": "10.0.0.%d" % (i + 1), "agent": "agent%d" % (i + 1), "location": d, "datacenter": "dc1"} for i, d in enumerate(node_dirs)]
created = requests.post(base + "/cluster-configs", json={"cluster_name": "Prod", "nodes": nodes}, headers=header)
out["registered"] = [created.status_code, created.json()]
out["clusters"] = list(requests.get(base + "/cluster-configs", headers=header).json().keys())
out["keyspaces"] = sorted(requests.get(base + "/Prod/keyspaces", cookies=cookie).json().keys())

boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="AKTEST", aws_secret_access_key="SKTEST", region_name="us-east-1").create_bucket(Bucket="opscenter-backups")
dest = requests.post(
    base + "/Prod/backups/destinations",
    json={"provider": "s3", "path": "opscenter-backups", "region": "us-east-1", "access_key": "AKTEST", "access_secret": "SKTEST", "server_side_encryption": False, "endpoint": s3_endpoint, "path_style": True, "throttle_bytes_per_second": 3000000},
    headers=header,
).json()
s3 = list(dest["destination"][0].keys())[0]
out["secret_hidden"] = "SKTEST" not in json.dumps(dest) and "SKTEST" not in requests.get(base + "/Prod/backups/destinations", cookies=cookie).text
out["destination_request"] = poll(dest["request_id"])["state"]

before = {i: {ks: fingerprint(os.path.join(d, ks)) for ks in ("Keyspace1", "OpsCenter")} for i, d in enumerate(node_dirs)}
request_id = requests.post(base + "/Prod/backups/run", json={"keyspaces": ["Keyspace1", "OpsCenter"], "destinations": {s3: {"compressed": True}}}, headers=header).json()
seen = []
status = poll(request_id, seen)
out["backup"] = [status["state"], status["destinations"], sorted(status["details"]["subrequests"].keys())]
out["progress_grew"] = seen == sorted(seen) and seen[0] < seen[-1] == 3 * 3 * 4
out["progress_seen"] = sorted(set(seen))
tag = status["tag"]

activity = requests.get(base + "/Prod/backup-activity", params={"filter_type": "backup", "filter_live": 1, "filter_success": 1}, headers=header).json()
out["activity"] = [[e["backup_id"] == tag, e["destination"]["provider"], e["type"], e["deleted_at"]] for e in activity]
backups = requests.get(base + "/Prod/backups", cookies=cookie).json()
out["listed"] = sorted(backups[tag]["keyspaces"].keys())

sync = requests.post(base + "/Prod/backups/sync", json={"tag": tag, "destinations": {"OPSC_ON_SERVER": {}}}, headers=header).json()
synced = poll(sync)
if synced["state"] != "success":
    raise SystemExit("the sync ended %s" % json.dumps(synced))
out["sync"] = synced["state"]
out["on_server"] = tag in requests.get(base + "/Prod/backups", params={"destination": "OPSC_ON_SERVER"}, headers=header).json()

# Rows' files of users are lost on every node; restore just that table, truncating first.
for d in node_dirs:
    users = table_dir(d, "Keyspace1", "users")
    os.remove(os.path.join(users, "nb-0-big-Data.db"))
    with open(os.path.join(users, "nb-9-big-Data.db"), "wb") as f:
        f.write(b"written after the backup")
restore = requests.post(base + "/Prod/backups/restore/%s/Keyspace1/users" % tag, json={"truncate": True, "destination": "OPSC_ON_SERVER"}, headers=header).json()
out["table_restore"] = poll(restore)["state"]
out["table_exact"] = all(fingerprint(table_dir(d, "Keyspace1", "users")) == {k[len(os.path.basename(table_dir(d, "Keyspace1", "users"))) + 1:]: v for k, v in before[i]["Keyspace1"].items() if k.startswith("users-")} for i, d in enumerate(node_dirs))

# The OpsCenter keyspace is damaged; restore it from the S3 copy with a form body.
for d in node_dirs:
    events = table_dir(d, "OpsCenter", "events")
    with open(os.path.join(events, "nb-1-big-Data.db"), "r+b") as f:
        f.write(b"damaged")
restore = requests.post(base + "/Prod/backups/restore/%s/OpsCenter" % tag, data={"destination": s3, "truncate": "true"}, cookies=cookie).json()
out["keyspace_restore"] = poll(restore)["state"]
out["keyspace_exact"] = all(fingerprint(os.path.join(d, "OpsCenter")) == before[i]["OpsCenter"] for i, d in enumerate(node_dirs))

schedule = requests.post(
    base + "/Prod/job-schedules",
    json={"first_run_date": "2030-01-01", "first_run_time": "01:00:00", "timezone": "US/Eastern", "interval": 1, "interval_unit": "days", "job_params": {"type": "backup", "keyspaces": [], "cleanup_age": 30, "cleanup_age_unit": "days", "destinations": {s3: {}}}},
    headers=header,
)
schedule_id = schedule.json()
jobs = [j for j in requests.get(base + "/Prod/job-schedules", headers=header).json() if j["job_params"]["type"] == "backup"]
out["schedule"] = [schedule.status_code, [j["id"] == schedule_id for j in jobs], jobs[0]["job_params"]["cleanup_age"], list(jobs[0]["job_params"]["destinations"].keys()) == [s3]]
out["schedule_deleted"] = requests.delete(base + "/Prod/job-schedules/%s" % schedule_id, headers=header).status_code

deleted = requests.delete(base + "/Prod/backups", params={"tag": tag, "destination": s3}, headers=header).json()
out["delete"] = poll(deleted)["state"]
out["after_delete"] = requests.get(base + "/Prod/backups", headers=header).json()
print(json.dumps(out))
