# Shared by scripts/bench-api.sh and scripts/bench-metadata.sh (sourced; they set COFFER, BASE,
# PASSWORD and WORK first): admin calls, JSON fields, waiting for operations, and a Cloud Backup
# configuration on a `coffer agent`.

admin() { curl -sf -u "admin:$PASSWORD" -H 'content-type: application/json' "$@"; }
jget() { python3 -c "import json,sys; v=json.load(sys.stdin); print(eval('v'+sys.argv[1]))" "$1"; }

wait_op() { # operation id: waits (at most 30 s) until it ended
  for _ in $(seq 1 600); do
    case $(admin "$BASE/admin/v1/operations/$1" | jget "['state']") in queued | running | cancelling) sleep 0.05 ;; *) return 0 ;; esac
  done
}

# Starts `coffer agent` as bench-agent with a new API key and waits until Cloud Backup lists it:
# sets AGENT_PID and AGENT_ID (its integer id).
start_bench_agent() {
  local key
  key=$(admin -X POST "$BASE/admin/v1/keys" -d '{"name":"bench agent"}' | jget "['key']")
  "$COFFER" agent --server "$BASE" --token "$key" --name bench-agent >"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 1 50); do
    AGENT_ID=$(admin "$BASE/v1.0/user/agents" |
      python3 -c "import json,sys; print(next((a['MachineAgentId'] for a in json.load(sys.stdin) if a['MachineName']=='bench-agent'), ''))")
    [ -n "$AGENT_ID" ] && return 0
    sleep 0.2
  done
  echo "the bench agent did not register" >&2
  exit 1
}

# Prints the id of a new manual Cloud Backup configuration named $1 of folder $2 on the bench agent.
cb_configuration() {
  admin -X POST "$BASE/v1.0/backup-configuration" -d "{\"BackupConfigurationName\":\"$1\",\"MachineAgentId\":$AGENT_ID,
    \"Frequency\":\"Manually\",\"TimeZoneId\":\"UTC\",\"VersionRetention\":30,
    \"Inclusions\":[{\"FilePath\":\"$2\",\"FileItemType\":\"Folder\"}],\"Exclusions\":[]}" | jget "['BackupConfigurationId']"
}

# Runs a manual backup of Cloud Backup configuration $1 and waits (at most 30 s) until it completed.
cb_backup() {
  local id
  id=$(admin -X POST "$BASE/v1.0/backup/action-requested" -d "{\"Action\":\"StartManual\",\"Id\":$1}")
  for _ in $(seq 1 600); do
    [ "$(admin "$BASE/v1.0/backup/$id" | jget "['CurrentState']")" = Completed ] && return 0
    sleep 0.05
  done
}
