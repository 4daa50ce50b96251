"""Drives Coffer's Cloud Databases API with Rackspace's pyrax 1.10.0, logged in with an API key
(RAX-KSKEY), and prints what it saw, as JSON. pyrax lives in its own virtualenv (it pins an old
novaclient and keystoneauth1).

Before deleting its backup it copies it to IAD and, logged in to region IAD, finds the copy there
and restores it. Last it logs in with the password instead: pyrax first offers it as an API key,
gets 401 and retries with passwordCredentials and tenantId = the user name.

usage: pyrax_lifecycle.py BASE USER API_KEY PASSWORD INSTANCE_ID DB_PATH
"""
import json
import sqlite3
import sys
import time

import pyrax
from pyrax import exceptions

base, user, api_key, password, instance_id, db_path = sys.argv[1:7]
pyrax.set_setting("identity_type", "rackspace")
pyrax.set_setting("auth_endpoint", base + "/v2.0/")
pyrax.set_setting("verify_ssl", False)
pyrax.set_credentials(user, api_key, region="DFW")
cdb = pyrax.cloud_databases
out = {"authenticated": pyrax.identity.authenticated}


def error(fn):
    try:
        fn()
    except exceptions.ClientException as e:
        return [type(e).__name__, e.code]
    return None


def backup_named(name):
    for _ in range(150):
        found = [b for b in cdb.list_backups() if b.name == name]
        if found and found[0].status in ("COMPLETED", "FAILED"):
            return found[0]
        time.sleep(0.2)
    raise SystemExit(f"backup {name} never ended")


instance = cdb.get(instance_id)
out["instance"] = [instance.name, instance.volume.size]

# A writer holds the database: the first backup waits for it, a second one is refused.
writer = sqlite3.connect(db_path, isolation_level=None)
writer.execute("BEGIN EXCLUSIVE")
cdb.create_backup(instance, "snapshot", description="My Backup")
out["concurrent"] = error(lambda: cdb.create_backup(instance, "again"))
writer.executemany("INSERT INTO t (v) VALUES (?)", [("pyrax %d" % i,) for i in range(7)])
writer.execute("COMMIT")
writer.close()

full = backup_named("snapshot")
out["full"] = [full.status, full.description, full.instance_id == instance_id]
out["shown"] = cdb.get_backup(full.id).status
out["instance_backups"] = len(cdb.list_backups(instance=instance))
out["long_name"] = error(lambda: cdb.create_backup(instance, "z" * 65))
out["get_unknown"] = error(lambda: cdb.get_backup("00000000-0000-0000-0000-000000000000"))

restored = cdb.restore_backup(full.id, "pyrax_restore", 1, 2)
out["restore"] = [restored.status, restored.volume.size]
for _ in range(150):
    restored = cdb.get(restored.id)
    if restored.status == "ACTIVE":
        break
    time.sleep(0.2)
out["restored"] = [restored.id, restored.status]

# pyrax has no copy call: a raw post through its client, as a script would send it.
resp, _ = cdb.method_post("/backups/%s/action" % full.id, body={"copy-backup": {"target_backup_region": "IAD", "name": "pyrax-copy", "description": "a copy"}})
out["copy"] = resp.status_code

# Logged in to IAD, pyrax talks to IAD's endpoint: the copy is there, and restores there.
pyrax.clear_credentials()
pyrax.set_credentials(user, api_key, region="IAD")
cdb = pyrax.cloud_databases
copy = backup_named("pyrax-copy")
out["iad"] = [copy.status, copy.description, len(cdb.list_backups())]
restored = cdb.restore_backup(copy.id, "pyrax_from_copy", 1, 2)
for _ in range(150):
    restored = cdb.get(restored.id)
    if restored.status == "ACTIVE":
        break
    time.sleep(0.2)
out["iad_restored"] = [restored.id, restored.status]

# Back in DFW: the original goes; the copy in IAD stays.
pyrax.clear_credentials()
pyrax.set_credentials(user, api_key, region="DFW")
cdb = pyrax.cloud_databases
cdb.delete_backup(full.id)
for _ in range(150):
    out["deleted"] = error(lambda: cdb.get_backup(full.id))
    if out["deleted"]:
        break
    time.sleep(0.2)
pyrax.clear_credentials()  # a fresh identity, as a new process has: no tenant name remembered
pyrax.set_credentials(user, password=password, region="DFW")
out["password_login"] = [pyrax.identity.authenticated, len(pyrax.cloud_databases.list_backups())]

print(json.dumps(out))
