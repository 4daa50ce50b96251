"""Logs in to Coffer with keystoneauth1's v2, v3 and generic Password plugins and prints what
each obtained, as JSON, for the Rust test to check."""
import json
import sys

from keystoneauth1 import session
from keystoneauth1.identity import generic, v2, v3

base, user, password, tenant = sys.argv[1:5]
results = {}

plugins = {
    "v2": v2.Password(auth_url=base + "/v2.0", username=user, password=password, tenant_id=tenant),
    "v3": v3.Password(auth_url=base + "/v3", username=user, password=password, project_id=tenant,
                      user_domain_id="default", project_domain_id="default"),
    "generic": generic.Password(auth_url=base, username=user, password=password, project_id=tenant,
                                user_domain_id="default", project_domain_id="default"),
}
for name, plugin in plugins.items():
    sess = session.Session(auth=plugin)
    token = sess.get_token()
    endpoint = sess.get_endpoint(service_type="database", region_name="DFW", interface="public")
    backup = sess.get_endpoint(service_type="rax:backup", region_name="IAD", interface="public")
    me = sess.get(base + "/admin/v1/whoami").json()
    results[name] = {"token_length": len(token), "database": endpoint, "backup": backup,
                     "whoami": me["user"], "tenant": me["tenant"]}
print(json.dumps(results))
