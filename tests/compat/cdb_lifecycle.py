"""Drives Coffer's Cloud Databases API with Rackspace's cdbclient 1.0.9 (Rackspace API-key login,
and a keystone password login) and
prints what it saw, as JSON. cdbclient's extension discovery trips over its own pins on a modern
Python, so the extensions it ships are handed to it explicitly, as the research notes advise.

usage: cdb_lifecycle.py BASE USER PASSWORD API_KEY TENANT INSTANCE_ID DB_PATH
"""
import importlib
import json
import sqlite3
import sys
import time

from cdbclient import client
from cdbclient.extension import Extension
from cdbclient.openstack.common.apiclient import exceptions

base, user, password, api_key, tenant, instance, db_path = sys.argv[1:8]
extensions = [Extension(name, importlib.import_module("cdbclient.v1." + name)) for name in ("backups", "flavors", "ha", "instances", "datastores")]


def connect(secret, auth_system, region="DFW"):
    return client.Client(user, secret, tenant_id=tenant, auth_url=base + "/v2.0", auth_system=auth_system, endpoint_type="publicURL", region_name=region, extensions=extensions)


cs = connect(api_key, "rax")
out = {}


def wait(get, want):
    for _ in range(150):
        obj = get()
        if obj.status == want:
            return obj
        time.sleep(0.2)
    raise SystemExit(f"never reached {want}")


def error(fn):
    try:
        fn()
    except exceptions.ClientException as e:
        return [type(e).__name__, e.http_status]
    return None


writer = sqlite3.connect(db_path, isolation_level=None)
writer.execute("BEGIN EXCLUSIVE")
full = cs.backups.create("snapshot", instance=instance, description="My Backup")
out["created"] = full.status
out["concurrent"] = error(lambda: cs.backups.create("again", instance=instance))
writer.execute("COMMIT")
writer.close()
full = wait(lambda: cs.backups.get(full.id), "COMPLETED")
inc = cs.backups.create("inc", instance=instance, parent_id=full.id)
inc = wait(lambda: cs.backups.get(inc.id), "COMPLETED")
out["parent"] = inc.parent_id == full.id
out["list"] = len(cs.backups.list())
out["list_limit"] = len(cs.backups.list(limit=1))
out["instance_backups"] = len(cs.instances.backups(instance))
out["copy"] = cs.backups.backup_copy(full.id, "IAD") is None
out["copy_lon"] = error(lambda: cs.backups.backup_copy(full.id, "LON"))
restored = cs.instances.create("cdb_restore", 1, volume={"size": 1}, restorePoint={"backupRef": full.id})
out["restore"] = restored.status
restored = wait(lambda: cs.instances.get(restored.id), "ACTIVE")
out["restored_id"] = restored.id
out["get_unknown"] = error(lambda: cs.backups.get("nope"))
out["long_name"] = error(lambda: cs.backups.create("y" * 65, instance=instance))
# The copy is a backup of its own in IAD; the original may be deleted once it is made.
iad = connect(api_key, "rax", "IAD")
copy = wait(lambda: iad.backups.list()[0], "COMPLETED")
out["iad"] = [copy.name, copy.description]
cs.backups.delete(full.id)
gone = False
for _ in range(150):
    if error(lambda: cs.backups.get(inc.id)) == ["NotFound", 404]:
        gone = True
        break
    time.sleep(0.2)
out["incremental_gone"] = gone
out["password_login_list"] = len(connect(password, "keystone").backups.list())
print(json.dumps(out))
