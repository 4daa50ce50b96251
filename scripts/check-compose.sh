#!/usr/bin/env bash
# Checks docker-compose.yml without Docker (which cannot run on the machines Coffer is built on):
# docker-compose's own parser (Debian's docker-compose package) validates the file and resolves its
# anchors and variables, then the resolved configuration is checked for the deployment README.md
# describes: two Coffer servers sharing PostgreSQL, S3 (MinIO), Redis and the token and secret
# keys, configured by environment variables only; a load balancer in front of them; an agent with
# the sample data directory reaching the servers through the balancer; a Dockerfile that builds
# the `coffer` binary the services run.
set -euo pipefail
cd "$(dirname "$0")/.."

in_ci() { [ "${CI:-}" = "true" ]; }
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing docker-compose from Debian packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null || true
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  in_ci && { echo "docker-compose is required in CI to check docker-compose.yml" >&2; exit 1; }
  echo "SKIPPED: docker-compose.yml is not checked (docker-compose is not installed)" >&2
  exit 0
fi

resolved=$(mktemp)
trap 'rm -f "$resolved"' EXIT
COFFER_ADMIN_PASSWORD=check COFFER_JWT_SECRET=check-secret-of-32-characters-or-more \
  COFFER_SECRET_KEY=check-key-of-32-characters-or-more MINIO_ROOT_PASSWORD=check \
  docker-compose -f docker-compose.yml config >"$resolved"

# The resolved file is plain YAML; Debian's python3 has PyYAML (a dependency of docker-compose).
/usr/bin/python3 - "$resolved" <<'EOF'
import sys, yaml

config = yaml.safe_load(open(sys.argv[1]))
services = config["services"]
problems = []

def check(ok, what):
    if not ok:
        problems.append(what)

servers = [name for name, s in services.items() if s.get("environment", {}).get("COFFER_SERVER_NAME")]
check(len(servers) == 2, f"two Coffer servers, found {servers}")
envs = [services[name]["environment"] for name in servers]
for name, env in zip(servers, envs):
    s = services[name]
    check(env.get("COFFER_DATABASE_URL", "").startswith("postgres://"), f"{name} keeps its state in PostgreSQL")
    check(env.get("COFFER_SERVER_STORE", "").startswith("s3://"), f"{name} keeps backups in S3")
    check(env.get("COFFER_REDIS_URL", "").startswith("redis://"), f"{name} counts the request limit in Redis")
    check(not any(":/etc" in str(v) or "coffer.toml" in str(v) for v in s.get("volumes", [])), f"{name} is configured by environment only")
    check("build" in s, f"{name} is built from the Dockerfile")
    check(not s.get("ports"), f"{name} is reached through the load balancer only")
for key in ["COFFER_DATABASE_URL", "COFFER_SERVER_STORE", "COFFER_REDIS_URL", "COFFER_JWT_SECRET", "COFFER_SECRET_KEY"]:
    check(len({env.get(key) for env in envs}) == 1, f"the servers share {key}")
check(len({env["COFFER_SERVER_NAME"] for env in envs}) == 2, "each server has its own name")

def image(name):
    return services.get(name, {}).get("image", "")

dependents = lambda s: set(services[s].get("depends_on", {}))
check(any(image(n).startswith("postgres") for n in services), "a PostgreSQL service")
check(any(image(n).startswith("minio/minio") for n in services), "an S3-compatible store (MinIO)")
check(any(image(n).startswith("redis") for n in services), "a Redis service")
balancers = [n for n in services if set(servers) <= dependents(n) and services[n].get("ports")]
check(len(balancers) == 1, "one load balancer in front of both servers, published on a port")
agents = [n for n, s in services.items() if "coffer agent" in str(s.get("entrypoint", "")) + str(s.get("command", ""))]
check(len(agents) == 1, f"one agent, found {agents}")
for a in agents:
    s = services[a]
    check(any("/data/sample" in str(v) for v in s.get("volumes", [])), "the agent has the sample data directory")
    check(balancers and s.get("environment", {}).get("COFFER_SERVER", "").startswith(f"http://{balancers[0]}:"), "the agent reaches the servers through the load balancer")
for name, s in services.items():
    for dep in s.get("depends_on", {}):
        check(dep in services, f"{name} depends on {dep}, which exists")

if problems:
    print("docker-compose.yml does not describe the deployment README.md promises:", *problems, sep="\n  - ", file=sys.stderr)
    sys.exit(1)
print(f"docker-compose.yml: {len(services)} services; servers {servers}, balancer {balancers}, agent {agents}")
EOF

grep -q -- '--bin coffer' Dockerfile || { echo "the Dockerfile does not build the coffer binary" >&2; exit 1; }
grep -q 'curl' Dockerfile || { echo "the image lacks curl, which the compose health checks call" >&2; exit 1; }
[ -f deploy/Caddyfile ] && [ -d deploy/sample-data ] || { echo "deploy/Caddyfile or deploy/sample-data is missing" >&2; exit 1; }
