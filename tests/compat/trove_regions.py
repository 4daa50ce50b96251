"""Drives Coffer's Cloud Databases regions with the stock python-troveclient (keystoneauth1 v2 and
v3 sessions, the endpoint chosen from the catalog by region_name) and, when it is installed,
cdbclient: a backup made in DFW is copied to IAD, where the copy is listed, shown and restored,
while DFW does not see it. Prints what it saw, as JSON, for the Rust test to check.

usage: trove_regions.py BASE USER PASSWORD TENANT INSTANCE_ID DB_PATH
"""
import importlib
import json
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v2, v3
from troveclient import exceptions
from troveclient.v1 import client

base, user, password, tenant, instance, db_path = sys.argv[1:7]
out = {}


def wait(get, done, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = get()
        if done(got):
            return got
        time.sleep(0.2)
    raise SystemExit("gave up waiting")


def error_class(fn):
    try:
        fn()
    except exceptions.ClientException as e:
        return type(e).__name__, getattr(e, "http_status", None) or getattr(e, "code", None)
    return None, None


sess = session.Session(auth=v2.Password(auth_url=base + "/v2.0", username=user, password=password, tenant_id=tenant))
dfw = client.Client(session=sess, region_name="DFW")
iad = client.Client(session=sess, region_name="IAD")

full = dfw.backups.create("snapshot", instance, description="My Backup")
full = wait(lambda: dfw.backups.get(full.id), lambda b: b.status == "COMPLETED")
out["full_id"] = full.id
# troveclient has no method for copy-backup: a raw post, as the research notes show.
resp, _ = dfw.client.post("/backups/%s/action" % full.id, body={"copy-backup": {"target_backup_region": "IAD", "name": None, "description": ""}})
out["copy_status"] = resp.status_code

copies = wait(lambda: iad.backups.list(), lambda found: len(found) == 1 and found[0].status == "COMPLETED")
copy = iad.backups.get(copies[0].id)
out["iad"] = [copy.name, copy.description, copy.status, copy.instance_id]
out["iad_id"] = copy.id
out["iad_location"] = copy.locationRef
out["dfw_sees_copy"] = error_class(lambda: dfw.backups.get(copy.id))
out["dfw_list"] = len(dfw.backups.list())
v3_sess = session.Session(auth=v3.Password(auth_url=base + "/v3", username=user, password=password, project_id=tenant, user_domain_id="default", project_domain_id="default"))
out["v3_iad_list"] = len(client.Client(session=v3_sess, region_name="IAD").backups.list())

restored = iad.instances.create("from_copy", flavor_id=1, volume={"size": 1}, restorePoint={"backupRef": copy.id})
restored = wait(lambda: iad.instances.get(restored.id), lambda i: i.status == "ACTIVE")
out["restored_status"] = restored.status
out["restored_id"] = restored.id

try:
    from cdbclient import client as cdb
    from cdbclient.extension import Extension
except ImportError:
    cdb = None
if cdb is not None:
    extensions = [Extension(name, importlib.import_module("cdbclient.v1." + name)) for name in ("backups", "flavors", "ha", "instances", "datastores")]
    cs = cdb.Client(user, password, tenant_id=tenant, auth_url=base + "/v2.0", auth_system="keystone", endpoint_type="publicURL", region_name="IAD", extensions=extensions)
    out["cdb_iad"] = [[b.name, b.status] for b in cs.backups.list()]
print(json.dumps(out))
