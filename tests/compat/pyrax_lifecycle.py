"""Drives Coffer's Cloud Databases API with Rackspace's pyrax 1.10.0, logged in with an API key
(RAX-KSKEY), and prints what it saw, as JSON. pyrax lives in its own virtualenv (it pins an old
novaclient and keystoneauth1).

Finally it logs in with the password instead: pyrax first offers it as an API key, gets 401 and
retries with passwordCredentials and tenantId = the user name.

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
