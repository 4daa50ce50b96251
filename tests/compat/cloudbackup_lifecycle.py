"""Drives Coffer's Cloud Backup v1.0 API with Rackspace's own python-cloudbackup-sdk 0.20.0
(installed and shimmed by cloudbackup_sdk.py) and prints what it saw as one JSON object on
stdout; its log goes to stderr.

It logs in with an API key and with a password through the SDK's Authentication, starts a
`coffer agent`, finds it with the SDK, and runs with the SDK's Agents, Backups and Restores:
  1. a backup configuration of two folders, one subfolder of them excluded: created, read back,
     renamed as the SDK updates (PUT of what it read), enabled and disabled;
  2. a backup polled to Completed, its completed list, report and availability for restore;
  3. a second backup stopped while queued (the agent is paused with SIGSTOP so that it cannot
     claim the work first) -> Stopped;
  4. a restore of the first backup into a new directory: created, folders included, started,
     polled, reported; the restored files are compared byte for byte (sha256) with the source;
  5. a third backup after one file became unreadable (mode 000) -> CompletedWithErrors, the
     file's path in the report's ErrorList (the first backup is the clean Completed one);
  6. the agent's activity rows; then the configuration and the agent are deleted.

Only three calls go around the SDK, each because it has none of its own (said where they are):
StopManual of a backup, the activity rows of a restore, and the raw activity rows (the SDK keeps
only id and state of Backup rows). Where the SDK would find Rackspace, it is pointed at Coffer:
its identity URI, and the API host (sslenabled=False and "127.0.0.1:PORT", its own constructor
parameters: the SDK derives the host only from an https catalog URL).

usage: cloudbackup_lifecycle.py BASE COFFER_BIN USER PASSWORD API_KEY WORKDIR
"""
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudbackup_sdk  # noqa: E402

auth, agents, backup = cloudbackup_sdk.load()

base, coffer, user, password, api_key, workdir = sys.argv[1:7]
base = base.rstrip("/")
logging.basicConfig(stream=sys.stderr, level=os.environ.get("COFFER_CB_LOG", "WARNING"), format="%(name)s %(levelname)s %(message)s")
log = logging.getLogger("cloudbackup_lifecycle")


def too_long(*_):
    raise SystemExit("the run took longer than 300 s")


# Every wait below is bounded; this ends the run should a request itself hang.
signal.signal(signal.SIGALRM, too_long)
signal.alarm(300)

TIMEOUT_MS = 60_000
PAUSE = 0.25
AGENT_NAME = "sdk-agent"
HOST = urllib.parse.urlsplit(base).netloc
assert urllib.parse.urlsplit(base).hostname == "127.0.0.1", "only 127.0.0.1"
out = {}
started_at = time.monotonic()


def phase(name):
    sys.stderr.write(f"[{time.monotonic() - started_at:6.1f} s] {name}\n")


def login(method, credential):
    """The SDK's Authentication, sent to Coffer's /v2.0/tokens instead of Rackspace's identity."""
    a = auth.Authentication(user, credential, usertype="user", method=method)
    a.uri = base + "/v2.0/tokens"
    token = a.GetToken()
    access = a.auth_data.get("access", {})
    return a, {
        "token": isinstance(token, str) and len(token) > 20,
        "tenant": a.AuthTenantId if token else None,
        "user": access.get("user", {}).get("name"),
        "authenticated_by": access.get("token", {}).get("RAX-AUTH:authenticatedBy"),
        # The SDK re-checks the expiry before every request; a token that reads as expired is
        # fetched again each time.
        "expired": a.IsExpired() if token else None,
        "cached": token is not None and a.AuthToken == token,
    }


def files_under(root):
    """{path relative to root: sha256} of every file under root."""
    found = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                found[os.path.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def noise(seed, size):
    """Deterministic bytes that do not compress."""
    return b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))[:size]


def wait(what, fn, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(PAUSE)
    raise SystemExit(f"timed out after {seconds} s waiting for {what}")


# --- 1. Identity --------------------------------------------------------------------------
phase("identity")
key_auth, out["apikey_login"] = login("apikey", api_key)
password_auth, out["password_login"] = login("password", password)
tenant = key_auth.AuthTenantId
# The SDK's own catalog look-up (several regions, so it takes the DFW endpoint as it is). Its
# GetCloudBackupApiUri would then cut "https://" off this http URL, so the API host is taken from
# BASE instead; the test checks that the catalog names the same place.
out["catalog_url"] = key_auth.GetCloudBackupApiUrl("dfw")

agents_api = agents.Agents(False, key_auth, HOST, 1, tenant)
backups_api = backup.Backups(False, key_auth, HOST, 1, tenant)
restores_api = backup.Restores(False, key_auth, HOST, 1, tenant)


def raw(method, path, body=None):
    """A request the SDK has no call for, with the token the SDK holds."""
    headers = {"X-Auth-Token": key_auth.AuthToken, "Content-Type": "application/json; charset=utf-8"}
    r = requests.request(method, base + path, headers=headers, data=None if body is None else json.dumps(body), timeout=30)
    return r.status_code, r.text


# --- The source tree ----------------------------------------------------------------------
src = os.path.join(workdir, "src")
folder_a, folder_b, skipped, left_out = (os.path.join(src, p) for p in ("a", "b", "a/skip", "c"))
write(os.path.join(folder_a, "readme.txt"), b"Coffer and the Cloud Backup SDK\n")
write(os.path.join(folder_a, "big.bin"), noise("big", 3 * 1024 * 1024 + 17))
write(os.path.join(folder_a, "empty"), b"")
write(os.path.join(folder_a, "deep/er/nested.json"), json.dumps({"nested": list(range(100))}).encode())
write(os.path.join(skipped, "cache.bin"), noise("cache", 4096))
write(os.path.join(skipped, "more/cache2.bin"), noise("cache2", 100))
write(os.path.join(folder_b, "one.dat"), noise("one", 70_000))
write(os.path.join(folder_b, "sub/two.dat"), noise("two", 12_345))
write(os.path.join(folder_b, "name with spaces.txt"), b"spaces\n")
write(os.path.join(left_out, "never.txt"), b"not in the configuration\n")
expected = {rel: digest for rel, digest in files_under(src).items() if rel.split(os.sep)[0] in ("a", "b") and not rel.startswith("a/skip/")}
out["source_files"] = len(expected)
out["source_bytes"] = sum(os.path.getsize(os.path.join(src, rel)) for rel in expected)

# --- 2. The agent -------------------------------------------------------------------------
phase("agent")
command = [coffer, "agent", "--server", base, "--token", api_key, "--name", AGENT_NAME]
if os.geteuid() == 0:
    # As root the agent could read a mode-000 file; without these capabilities it cannot.
    command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] + command
agent_log = open(os.path.join(workdir, "agent.log"), "wb")
agent = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=agent_log, stderr=agent_log, env=dict(os.environ, RUST_LOG="warn"))


def stop_agent():
    if agent.poll() is None:
        agent.send_signal(signal.SIGCONT)
        agent.kill()
        agent.wait()


try:
    found = wait("the agent to register", lambda: agents_api.GetAllAgentsForHost(cloud_server_name=AGENT_NAME), 30)
    agent_id = found[0]["MachineAgentId"]
    out["agent_id"] = agent_id
    out["agents_found_by_name"] = len(found)
    out["agent_ids"] = {
        "apikey": agent_id in agents_api.GetAgentsFromApi(),
        "password": agent_id in agents.Agents(False, password_auth, HOST, 1, password_auth.AuthTenantId).GetAgentsFromApi(),
    }
    assert agents_api.GetAgentDetails(agent_id), "GetAgentDetails"
    d = agents_api.AgentDetails(agent_id)
    out["agent"] = {
        "MachineName": d.MachineName,
        "Status": d.Status,
        "IsDisabled": d.IsDisabled,
        "Datacenter": d.Datacenter,
        "Flavor": d.Flavor,
        "HostServerId": d.HostServerId == found[0]["HostServerId"],
        "PublicKey": sorted(d.PublicKey),
        "last_backup_before": d.DateTimeOfLastSuccessfulBackup,
    }
    out["wake"] = agents_api.WakeAgents()
    disabled = agents_api.EnableDisableAgent(agent_id, enabled=False)
    agents_api.GetAgentDetails(agent_id)
    reads_disabled = agents_api.AgentDetails(agent_id).IsDisabled
    enabled = agents_api.EnableDisableAgent(agent_id, enabled=True)
    agents_api.GetAgentDetails(agent_id)
    out["disable_enable"] = [disabled, reads_disabled, enabled, agents_api.AgentDetails(agent_id).IsDisabled]

    # --- 3. The backup configuration --------------------------------------------------------
    phase("configuration")
    config = backup.BackupConfiguration()
    config.ConfigurationName = "sdk-files"
    config.MachineAgentId = agent_id
    config.AddFolders([folder_a, folder_b])
    config.AddFolder(skipped, excluded=True)
    assert backups_api.CreateBackupConfiguration(config), "CreateBackupConfiguration"
    config_id = config.ConfigurationId
    out["config_id"] = config_id
    read = backups_api.RetrieveBackupConfiguration(config_id)

    def config_view(c):
        d = c.to_dict
        return {
            "id": c.ConfigurationId,
            "name": c.ConfigurationName,
            "agent": c.MachineAgentId,
            "active": c.Active,
            "frequency": c.Frequency,
            "time_zone": c.TimeZoneId,
            "retention": c.VersionRetention,
            "inclusions": [[i["FilePath"], i["FileItemType"], i.get("Filter")] for i in d["Inclusions"]],
            "exclusions": [[i["FilePath"], i["FileItemType"], i.get("Filter")] for i in d["Exclusions"]],
        }

    out["config_read"] = config_view(read)
    read.ConfigurationName = "sdk-files-renamed"
    out["config_updated"] = backups_api.UpdateBackupConfiguration(read)
    out["config_after_update"] = config_view(backups_api.RetrieveBackupConfiguration(config_id))
    on = backups_api.EnableDisableBackupConfiguration(agent_id, config_id, True)
    active = backups_api.RetrieveBackupConfiguration(config_id).Active
    off = backups_api.EnableDisableBackupConfiguration(agent_id, config_id, False)
    out["config_enable_disable"] = [on, active, off, backups_api.RetrieveBackupConfiguration(config_id).Active]

    # --- 4. A backup to Completed -----------------------------------------------------------
    phase("first backup")
    def run_backup():
        snapshot = backups_api.StartBackup(config_id)
        backups_api.MonitorBackupProgress(snapshot, TIMEOUT_MS, PAUSE)
        return snapshot, backups_api.GetBackupProgressV1(snapshot)

    snapshot, details = run_backup()
    first = int(snapshot)
    out["first"] = {
        "snapshot_text": snapshot,
        "state": details["CurrentState"],
        "BackupId": details["BackupId"],
        "BackupConfigurationId": details["BackupConfigurationId"],
        "BackupConfigurationName": details["BackupConfigurationName"],
        "MachineAgentId": details["MachineAgentId"],
        "MachineName": details["MachineName"],
        "Datacenter": details["Datacenter"],
        "BackupDatacenter": details["BackupDatacenter"],
        "EncryptionKey": sorted(details["EncryptionKey"]),
    }
    completed = backups_api.GetCompletedBackups(config_id)
    mine = [c for c in completed if c["BackupId"] == first]
    out["first"]["completed_listed"] = len(mine)
    out["first"]["completed_bytes"] = mine[0]["BytesSearched"] if mine else None
    out["first"]["completed_errors"] = mine[0]["NumErrors"] if mine else None
    out["first"]["completed_found"] = backups_api.GetCompletedBackup(config_id, snapshot)
    report = backups_api.GetBackupReport(first)
    out["first"]["report"] = {
        k: report.get(k)
        for k in (
            "BackupId",
            "BackupConfigurationId",
            "State",
            "CanRestore",
            "FilesSearched",
            "BytesSearched",
            "FilesBackedUp",
            "BytesBackedUp",
            "NumErrors",
            "Reason",
            "ErrorList",
            "ComputerName",
        )
    }
    out["first"]["report"]["Duration"] = len(report.get("Duration") or "")
    available = backups_api.GetBackupsForRestore(agent_id, config_id)
    out["available_for_restore"] = [available["code"], [b["MachineAgentId"] for b in available["backups"]]]
    agents_api.GetAgentDetails(agent_id)
    out["agent_last_backup_set"] = agents_api.AgentDetails(agent_id).DateTimeOfLastSuccessfulBackup is not None

    # --- 5. A second backup, stopped while queued ------------------------------------------
    phase("second backup")
    # Paused, the agent cannot claim the backup; the pause lets a claim it had sent be answered.
    agent.send_signal(signal.SIGSTOP)
    time.sleep(1.5)
    try:
        second_snapshot = backups_api.StartBackup(config_id)
        second = int(second_snapshot)
        queued = backups_api.GetBackupProgressV1(second_snapshot)["CurrentState"]
        # The SDK has no StopManual (its v1 client never stops a backup): sent as the API documents it.
        stop_status, stop_body = raw("POST", "/v1.0/backup/action-requested", {"Action": "StopManual", "Id": second})
        backups_api.MonitorBackupProgress(second_snapshot, TIMEOUT_MS, PAUSE)
        stopped = backups_api.GetBackupProgressV1(second_snapshot)["CurrentState"]
    finally:
        agent.send_signal(signal.SIGCONT)
    out["second"] = {"id": second, "queued": queued, "stop": [stop_status, stop_body], "state": stopped}
    out["second"]["completed_listed"] = any(c["BackupId"] == second for c in backups_api.GetCompletedBackups(config_id))

    # --- 6. Restore the first backup into a new directory -----------------------------------
    phase("restore")
    destination = os.path.join(workdir, "restored")
    restore = backup.RestoreConfiguration()
    restore.BackupId = first
    restore.BackupMachineId = agent_id
    restore.DestinationMachineId = agent_id
    restore.DestinationPath = destination
    restore.OverwriteFiles = False
    created = restores_api.CreateRestoreConfiguration(restore)
    restore_id = created["RestoreId"]
    out["restore"] = {
        "id": restore_id,
        "created_state": created["RestoreStateId"],
        "created_config": created["BackupConfigurationId"],
        "created_destination": created["DestinationPath"],
    }
    out["restore"]["include"] = [restores_api.IncludePath(restore_id, folder_a), restores_api.IncludePath(restore_id, folder_b)]
    listed = restores_api.ListIncExcFiles(restore_id)
    out["restore"]["files"] = [[f["FilePath"], f["FileItemType"], f["Filter"], f["RestoreId"]] for f in listed]
    out["restore"]["started"] = restores_api.StartRestore(restore_id)
    restores_api.MonitorRestoreProgress(restore_id, TIMEOUT_MS, PAUSE)
    restored = restores_api.GetRestoreDetails(restore_id)
    out["restore"]["state"] = restored.get("RestoreStateId")
    out["restore"]["BackupId"] = restored.get("BackupId")
    restore_report = restores_api.GetRestoreReport(restore_id)
    out["restore"]["report"] = {
        k: restore_report.get(k) for k in ("State", "Reason", "NumFilesRestored", "NumErrors", "RestoreDestination", "ErrorList")
    }
    placed = os.path.join(destination, os.path.relpath(src, "/"))
    got = files_under(destination)
    want = {os.path.join(os.path.relpath(src, "/"), rel): digest for rel, digest in expected.items()}
    out["restored_files"] = len(got)
    out["restored_identical"] = got == want
    if got != want:
        log.error("restored tree differs: missing %s, extra %s, changed %s", sorted(set(want) - set(got)), sorted(set(got) - set(want)), sorted(k for k in want if k in got and got[k] != want[k]))
    out["excluded_absent"] = not os.path.exists(os.path.join(placed, "a", "skip"))
    out["left_out_absent"] = not os.path.exists(os.path.join(placed, "c"))

    # --- 7. An unreadable file: the backup completes with errors ----------------------------
    phase("third backup")
    secret = os.path.join(folder_b, "secret.key")
    write(secret, b"top secret\n")
    os.chmod(secret, 0o000)
    try:
        third_snapshot, details = run_backup()
        third = int(third_snapshot)
        third_report = backups_api.GetBackupReport(third)
    finally:
        os.chmod(secret, 0o600)
    out["third"] = {
        "id": third,
        "state": details["CurrentState"],
        "report_state": third_report.get("State"),
        "can_restore": third_report.get("CanRestore"),
        "num_errors": third_report.get("NumErrors"),
        "error_paths": [e.get("Path") for e in third_report.get("ErrorList") or []],
        "error_descs": [e.get("ErrorDesc") for e in third_report.get("ErrorList") or []],
        "files_backed_up": third_report.get("FilesBackedUp"),
        "unreadable": secret,
    }
    out["third"]["completed_errors"] = [c["NumErrors"] for c in backups_api.GetCompletedBackups(config_id) if c["BackupId"] == third]

    # --- 8. Activity ------------------------------------------------------------------------
    phase("activity")
    # GET /v1.0/{tenant}/system/activity/{agentId}, reduced by the SDK to this configuration's
    # Backup rows. (GetAgentLatestActivity asks .../activity{agentId}, without the slash, and
    # reads "Id": broken against any server, so it is not used.)
    rows = backups_api.GetAllBackupsForConfiguration(agent_id, config_id)
    out["activity_backups"] = {str(r["id"]): r["state"] for r in rows}
    out["activity_backup_agents"] = sorted({r["agent"] for r in rows})
    # The SDK has no call that returns Restore rows nor a row's BackupId: the same request, raw.
    status, text = raw("GET", f"/v1.0/{tenant}/system/activity/{agent_id}")
    activity = json.loads(text) if status == 200 else []
    backup_row = next((r for r in activity if r["Type"] == "Backup" and r["ID"] == first), {})
    restore_row = next((r for r in activity if r["Type"] == "Restore" and r["ID"] == restore_id), {})
    out["activity"] = {
        "status": status,
        "backup_row": [backup_row.get("ID"), backup_row.get("BackupId"), backup_row.get("ParentId"), backup_row.get("CurrentState")],
        "restore_row": [restore_row.get("ID"), restore_row.get("CurrentState"), restore_row.get("SourceMachineAgentId")],
    }

    # --- 9. Clean up with the SDK -----------------------------------------------------------
    phase("clean up")
    out["config_deleted"] = backups_api.DeleteBackupConfiguration(config_id)
    try:
        backups_api.RetrieveBackupConfiguration(config_id)
        out["config_gone"] = False
    except ValueError as e:
        out["config_gone"] = "(404)" in str(e)
finally:
    stop_agent()
    agent_log.close()
    if sys.exc_info()[0] is not None:
        with open(os.path.join(workdir, "agent.log"), "rb") as f:
            sys.stderr.write("--- agent log (tail) ---\n" + f.read()[-4000:].decode(errors="replace"))

out["agent_removed"] = agents_api.RemoveAgent(agent_id)
out["agent_details_after_remove"] = agents_api.GetAgentDetails(agent_id)
signal.alarm(0)
sys.stdout.write(json.dumps(out, default=str) + "\n")
