"""Drives Coffer's Cloud Databases API with the stock python-troveclient (through keystoneauth1
sessions) and prints what it saw, as JSON, for the Rust test to check.

usage: trove_lifecycle.py BASE USER PASSWORD TENANT INSTANCE_ID DB_PATH
"""
import json
import sqlite3
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v2, v3
from keystoneauth1 import token_endpoint
from troveclient import exceptions
from troveclient.v1 import client

base, user, password, tenant, instance, db_path = sys.argv[1:7]
out = {}


def wait(get, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        obj = get()
        if obj.status == want:
            return obj
        time.sleep(0.2)
    raise SystemExit(f"never reached {want}")


def error_class(fn):
    try:
        fn()
    except exceptions.ClientException as e:
        return type(e).__name__, getattr(e, "http_status", None) or getattr(e, "code", None)
    return None, None


v2_sess = session.Session(auth=v2.Password(auth_url=base + "/v2.0", username=user, password=password, tenant_id=tenant))
cs = client.Client(session=v2_sess, region_name="DFW")


def insert_rows(db, n, label):
    db.executemany("INSERT INTO t (v) VALUES (?)", [("%s %d" % (label, i),) for i in range(n)])


# A writer holds the database: the first backup waits for it, a second one is refused (422).
writer = sqlite3.connect(db_path, isolation_level=None)
writer.execute("BEGIN EXCLUSIVE")
full = cs.backups.create("snapshot", instance, description="My Backup")
out["created_status"] = full.status
out["concurrent"] = error_class(lambda: cs.backups.create("again", instance))
insert_rows(writer, 15, "held")
writer.execute("COMMIT")
full = wait(lambda: cs.backups.get(full.id), "COMPLETED")
out["full"] = {"id": full.id, "status": full.status, "instance_id": full.instance_id, "datastore": full.datastore["type"]}
insert_rows(writer, 20, "before incremental")
writer.close()

inc = cs.backups.create("inc", instance, incremental=True)
inc = wait(lambda: cs.backups.get(inc.id), "COMPLETED")
out["inc"] = {"id": inc.id, "parent_id": inc.parent_id}

out["list"] = len(cs.backups.list())
out["list_sqlite"] = len(cs.backups.list(datastore="sqlite"))
out["list_mysql"] = len(cs.backups.list(datastore="mysql"))
page = cs.backups.list(limit=1)
out["page1"] = [len(page), page.next is not None]
page2 = cs.backups.list(limit=1, marker=page.next)
out["page2_other"] = page2[0].id != page[0].id
out["instance_backups"] = len(cs.instances.backups(instance))

restored = cs.instances.create("restored", flavor_id=1, volume={"size": 1}, restorePoint={"backupRef": inc.id})
out["restore_status"] = restored.status
restored = wait(lambda: cs.instances.get(restored.id), "ACTIVE")
out["restored_id"] = restored.id

resp, _ = cs.client.post("/backups/%s/action" % full.id, body={"copy-backup": {"target_backup_region": "IAD", "name": None, "description": ""}})
out["copy_status"] = resp.status_code
out["copy_lon"] = error_class(lambda: cs.client.post("/backups/%s/action" % full.id, body={"copy-backup": {"target_backup_region": "LON"}}))
# The copy is a backup of its own in IAD (the original's name, none being given); the original
# may be deleted once the copy is made.
iad = client.Client(session=v2_sess, region_name="IAD")
wait(lambda: iad.backups.list()[0], "COMPLETED")
out["iad_copies"] = [b.name for b in iad.backups.list()]
out["get_unknown"] = error_class(lambda: cs.backups.get("00000000-0000-0000-0000-000000000000"))
out["long_name"] = error_class(lambda: cs.backups.create("x" * 65, instance))

cs.backups.delete(full.id)
deadline = time.time() + 30
gone = False
while time.time() < deadline and not gone:
    gone = error_class(lambda: cs.backups.get(inc.id))[0] == "NotFound"
    time.sleep(0.2)
out["incremental_gone"] = gone

v3_sess = session.Session(auth=v3.Password(auth_url=base + "/v3", username=user, password=password, project_id=tenant, user_domain_id="default", project_domain_id="default"))
out["v3_list"] = len(client.Client(session=v3_sess, region_name="DFW").backups.list())
token = v2_sess.get_token()
plain = session.Session(auth=token_endpoint.Token(base + "/v1.0/" + tenant, token))
out["token_list"] = len(client.Client(session=plain).backups.list())
print(json.dumps(out))
