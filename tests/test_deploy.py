"""The deployment files, read as the tools would read them (no Docker engine runs on this machine).

The property that matters most: Dagster's open-source webserver has no login, so nothing may reach
it except through the authenticating, TLS-terminating proxy. Checked on the compose file's
services, ports and networks, and on the proxy's nginx configuration; the Helm values are checked
for the same shape (ClusterIP service, ingress with auth and TLS) and for agreeing with our
instance configuration.
"""

from __future__ import annotations

import re

import pytest
import yaml

from agent_pipelines.core import paths

DEPLOY = paths.PROJECT_ROOT / "deploy"
APP_SERVICES = ("code", "webserver", "webserver-ops", "daemon")
WEBSERVERS = ("webserver", "webserver-ops")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _networks(service: dict) -> set[str]:
    value = service.get("networks", {})
    return set(value) if isinstance(value, list | dict) else set()


def _webserver_port(service: dict) -> int:
    command = service["command"]
    return int(command[command.index("-p") + 1])


def test_only_the_proxy_publishes_a_port(compose: dict) -> None:
    services = compose["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    assert [p.split(":")[-1] for p in services["proxy"]["ports"]] == ["443"]
    for name, service in services.items():
        assert service.get("network_mode") is None, f"{name} must not share the host's network"


def test_webserver_is_on_internal_networks_only_shared_with_the_proxy(compose: dict) -> None:
    services, networks = compose["services"], compose["networks"]
    web = _networks(services["webserver"])
    assert web, "the webserver must be on an explicit network"
    assert all(networks[n].get("internal") is True for n in web), "webserver networks must be internal"
    # Whoever can reach the webserver over a network: the proxy, and Dagster's own services.
    neighbours = {name for name, s in services.items() if name != "webserver" and _networks(s) & web}
    assert "proxy" in neighbours
    assert neighbours <= {"proxy", "code", "daemon", "postgres", "webserver-ops"}
    # The proxy is the one service on both the internal network and a network with a way out.
    assert _networks(services["proxy"]) - web, "the proxy needs a non-internal network to be reachable"
    assert not (set(services["webserver"]) & {"ports", "extra_hosts"})


def test_proxy_authenticates_terminates_tls_and_forwards_to_the_webserver(compose: dict) -> None:
    proxy = compose["services"]["proxy"]
    mounts = {v.rsplit(":", 2)[1]: v.rsplit(":", 2)[0] for v in proxy["volumes"]}  # source:target:ro
    template = mounts["/etc/nginx/templates/default.conf.template"]
    conf = (DEPLOY / template).read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())  # without comments
    assert re.search(r"listen\s+443\s+ssl( http2)?;", code)
    assert not re.search(r"listen\s+(80|3000)\b", code), "no plain-HTTP listener"
    assert re.search(r"ssl_certificate\s+/etc/nginx/tls/", code)
    assert re.search(r'auth_basic\s+"[^"]+";', code) and "auth_basic_user_file /etc/nginx/htpasswd;" in code
    assert "auth_basic off" not in code
    # auth_basic sits at server level, so it covers every location (the GraphQL API included).
    server = code[code.index("server {") :]
    assert server.index("auth_basic ") < server.index("location")
    ports = [_webserver_port(compose["services"][name]) for name in WEBSERVERS]
    assert re.findall(r"proxy_pass\s+(\S+);", code) == [
        f"http://{n}:{p}" for n, p in zip(WEBSERVERS, ports, strict=True)
    ]
    assert "/etc/nginx/htpasswd" in mounts and "/etc/nginx/tls" in mounts
    # Replays and reports (issue 25): the data volume read-only, two folders, no listing, same login.
    assert mounts["/srv/agent-pipelines"] == "data" and any(
        v.endswith(":/srv/agent-pipelines:ro") for v in proxy["volumes"]
    )
    aliases = re.findall(r"location\s+(\S+)\s*\{\s*alias\s+(\S+);", code)
    assert aliases == [
        ("/files/replays/", "/srv/agent-pipelines/replays/"),
        ("/files/reports/", "/srv/agent-pipelines/reports/"),
    ]
    assert "autoindex on" not in code
    assert compose["services"]["code"]["environment"]["AGENT_PIPELINES_FILES_URL"] == "/files"


def test_services_share_one_image_and_take_settings_from_the_environment(compose: dict) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in APP_SERVICES}
    builds = {services[name]["build"]["dockerfile"] for name in APP_SERVICES}
    assert len(images) == 1 and builds == {"deploy/Dockerfile"}
    assert (paths.PROJECT_ROOT / "deploy/Dockerfile").exists()
    secret = re.compile(r"PASSWORD|TOKEN|SECRET|ACCESS_KEY")
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if secret.search(key):
                assert isinstance(value, str) and re.fullmatch(r"\$\{[A-Z_]+(:[-?][^}]*)?\}", value), (
                    f"{name}.{key} must come from the environment, not the file"
                )
    for name in APP_SERVICES:
        env = services[name]["environment"]  # every Dagster service on the same instance
        assert env["AGENT_PIPELINES_INSTANCE"] == "postgres"
        assert env["DAGSTER_PG_PASSWORD"].startswith("${DAGSTER_PG_PASSWORD:?")


def test_dockerfile_installs_the_postgres_instance_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "cp config/dagster-postgres.yaml" in text
    assert re.search(r"^USER agent$", text, re.M)
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], server["port"]) == ("code", 4000)
    example = (DEPLOY / ".env.example").read_text()
    for line in example.splitlines():
        if re.match(r"(DAGSTER_PG_PASSWORD|TELEGRAM_BOT_TOKEN|AWS_SECRET_ACCESS_KEY)=", line):
            assert line.endswith("="), f"no secret values in the example: {line}"


def test_helm_values_agree_with_the_instance_config_and_hide_the_webserver() -> None:
    values = yaml.safe_load((DEPLOY / "helm/values.yaml").read_text())
    instance = yaml.safe_load((paths.PROJECT_ROOT / "config/dagster-postgres.yaml").read_text())
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"  # the ways in: access.yaml (below)
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["tagConcurrencyLimits"] == instance["run_queue"]["tag_concurrency_limits"]
    assert queued["maxConcurrentRuns"] == instance["run_queue"]["max_concurrent_runs"]
    assert (
        values["retention"]["sensor"]["purgeAfterDays"] == instance["retention"]["sensor"]["purge_after_days"]
    )
    assert values["generatePostgresqlPasswordSecret"] is False  # the password lives in a secret store
    assert "postgresqlPassword" not in values["postgresql"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "agent_pipelines.definitions"]
    images = {
        (v["image"]["repository"], v["image"]["tag"])
        for v in (values["dagsterWebserver"], values["dagsterDaemon"], deployment)
    }
    assert len(images) == 1, "webserver, daemon and code location run the same image"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"  # each run its own pod (tests/test_helm.py)


def test_shipper_config_holds_no_secret_and_matches_the_mirror_layout() -> None:
    import configparser

    from agent_pipelines.ingest.log_mirror import target_of

    config = configparser.ConfigParser()
    config.read(DEPLOY / "shipper/rclone.conf")
    remote = config["agentlogs"]
    assert remote["type"] == "s3" and remote["env_auth"] == "true"
    assert not {"access_key_id", "secret_access_key", "session_token"} & set(remote)
    script = (DEPLOY / "shipper/ship-agent-logs.sh").read_text()
    assert '--include "stream/*.jsonl"' in script and '"$REMOTE/$HOST"' in script
    # What the script uploads is what the mirror follows.
    assert target_of("host-1/stream/2026-03-03.jsonl") == ("stream/2026-03-03.jsonl", False)
    assert target_of("host-1/agent-work-stream.jsonl") == ("agent-work-stream.jsonl", False)


# --------------------------------------------------------------------------------------------
# Issue 22, item 7: secrets git-ignored, viewers read-only, operators apart, gRPC unreachable
# --------------------------------------------------------------------------------------------


def _locations(code: str) -> dict[str, str]:
    """``location <path> { ... }`` bodies of an nginx configuration (no nested blocks in ours)."""
    return dict(re.findall(r"location\s+(\S+)\s*\{([^}]*)\}", code))


def _nginx_code(compose: dict) -> str:
    proxy = compose["services"]["proxy"]
    mounts = {v.rsplit(":", 2)[1]: v.rsplit(":", 2)[0] for v in proxy["volumes"]}
    conf = (DEPLOY / mounts["/etc/nginx/templates/default.conf.template"]).read_text()
    return "\n".join(line.split("#", 1)[0] for line in conf.splitlines())


def test_every_secret_file_the_readme_has_you_create_is_git_ignored() -> None:
    import subprocess

    readme = (paths.PROJECT_ROOT / "README.md").read_text()
    created: set[str] = set()
    for line in readme.splitlines():
        if re.match(r"\s*(cp|htpasswd|mkdir|openssl|mv)\b", line):
            # the target of each command on the line (cp's last argument; htpasswd's file; mkdir's folder)
            for command in line.split("#", 1)[0].split("&&"):
                words = command.split()
                targets = [w for w in words[1:] if w.startswith("deploy/")]
                if targets:
                    created.add(targets[-1])
    example = (DEPLOY / ".env.example").read_text()
    created |= {
        f"deploy/{m}"
        for m in re.findall(r"^(?:HTPASSWD_FILE|OPERATORS_HTPASSWD_FILE)=\./(\S+)", example, re.M)
    }
    created |= {"deploy/tls/tls.key", "deploy/tls/tls.crt", "deploy/.env"}
    assert {"deploy/.env", "deploy/htpasswd", "deploy/htpasswd-operators", "deploy/tls"} <= created, created
    for path in sorted(created):
        result = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], cwd=paths.PROJECT_ROOT, check=False
        )
        assert result.returncode == 0, f"{path} is not git-ignored"
    assert "deploy/.env.example" not in created


def test_viewers_get_the_read_only_webserver_and_operators_a_separate_login(compose: dict) -> None:
    services = compose["services"]
    assert "--read-only" in services["webserver"]["command"]
    assert "--read-only" not in services["webserver-ops"]["command"]
    ops = services["webserver-ops"]["command"]
    prefix = ops[ops.index("--path-prefix") + 1]
    locations = _locations(_nginx_code(compose))
    # ... and the static replays and reports (issue 25): files only, behind the viewers' login.
    assert set(locations) == {"/", f"{prefix}/", "/files/replays/", "/files/reports/"}
    for static in ("/files/replays/", "/files/reports/"):
        assert "alias" in locations[static] and "proxy_pass" not in locations[static]
        assert "auth_basic" not in locations[static]  # the server-level login applies
    viewers, operators = locations["/"], locations[f"{prefix}/"]
    assert f"http://webserver:{_webserver_port(services['webserver'])};" in viewers
    assert "auth_basic" not in viewers  # the server-level login: the viewers' file
    assert f"http://webserver-ops:{_webserver_port(services['webserver-ops'])};" in operators
    files = re.findall(r"auth_basic_user_file\s+(\S+);", operators)
    assert files == ["/etc/nginx/htpasswd-operators"]  # not the viewers' file
    assert re.search(r'auth_basic\s+"[^"]+";', operators) and "auth_basic off" not in operators
    mounts = {v.rsplit(":", 2)[1] for v in services["proxy"]["volumes"]}
    assert "/etc/nginx/htpasswd-operators" in mounts


def test_the_code_servers_grpc_is_reachable_only_by_the_webservers_and_the_daemon(compose: dict) -> None:
    services, networks = compose["services"], compose["networks"]
    code = services["code"]
    host = code["command"][code["command"].index("-h") + 1]
    assert host != "0.0.0.0"
    (grpc,) = [n for n, spec in code["networks"].items() if (spec or {}).get("ipv4_address") == host]
    assert networks[grpc]["internal"] is True and not code.get("ports")
    members = {name for name, s in services.items() if grpc in _networks(s)}
    assert members == {"code", "webserver", "webserver-ops", "daemon"}
    assert not _networks(services["proxy"]) & (_networks(code) | _networks(services["postgres"]))
    health = code["healthcheck"]["test"]
    assert health[health.index("-h") + 1] == host
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["host"] == "code"  # resolves to that address on grpc


def test_helm_viewers_read_only_operators_apart_and_a_network_policy() -> None:
    values = yaml.safe_load((DEPLOY / "helm/values.yaml").read_text())
    assert values["dagsterWebserver"]["enableReadOnly"] is True
    assert values["ingress"]["enabled"] is False  # one Ingress for both would share a password file
    docs = [d for d in yaml.safe_load_all((DEPLOY / "helm/access.yaml").read_text()) if d]
    ingresses = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Ingress"}
    backends = {}
    for name, ing in ingresses.items():
        annotations = ing["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic" and ing["spec"]["tls"]
        ((rule,),) = [ing["spec"]["rules"]]
        ((path,),) = [rule["http"]["paths"]]
        backends[name] = (
            path["backend"]["service"]["name"],
            annotations["nginx.ingress.kubernetes.io/auth-secret"],
        )
    assert backends["agent-pipelines-viewers"][0] == "agent-pipelines-webserver-read-only"
    assert backends["agent-pipelines-operators"][0] == "agent-pipelines-webserver"
    assert backends["agent-pipelines-viewers"][1] != backends["agent-pipelines-operators"][1]
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    code = policies["agent-pipelines-code-location"]
    assert code["podSelector"]["matchLabels"].items() <= deployment["labels"].items()
    ((rule,),) = [code["ingress"]]
    assert [p["port"] for p in rule["ports"]] == [deployment["port"]]
    ((source,),) = [rule["from"]]
    (expression,) = source["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == {"dagster-webserver", "dagster-webserver-read-only", "dagster-daemon"}
    assert "agent-pipelines-webservers" in policies
