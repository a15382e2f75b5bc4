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
APP_SERVICES = ("code", "webserver", "daemon")


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
    assert neighbours <= {"proxy", "code", "daemon", "postgres"}
    # The proxy is the one service on both the internal network and a network with a way out.
    assert _networks(services["proxy"]) - web, "the proxy needs a non-internal network to be reachable"
    assert not (set(services["webserver"]) & {"ports", "extra_hosts"})


def test_proxy_authenticates_terminates_tls_and_forwards_to_the_webserver(compose: dict) -> None:
    proxy = compose["services"]["proxy"]
    mounts = {v.rsplit(":", 2)[1]: v.rsplit(":", 2)[0] for v in proxy["volumes"]}  # source:target:ro
    template = mounts["/etc/nginx/templates/default.conf.template"]
    conf = (DEPLOY / template).read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())  # without comments
    assert re.search(r"listen\s+443\s+ssl;", code)
    assert not re.search(r"listen\s+(80|3000)\b", code), "no plain-HTTP listener"
    assert re.search(r"ssl_certificate\s+/etc/nginx/tls/", code)
    assert re.search(r'auth_basic\s+"[^"]+";', code) and "auth_basic_user_file /etc/nginx/htpasswd;" in code
    assert "auth_basic off" not in code
    # auth_basic sits at server level, so it covers every location (the GraphQL API included).
    server = code[code.index("server {") :]
    assert server.index("auth_basic ") < server.index("location")
    port = _webserver_port(compose["services"]["webserver"])
    assert re.findall(r"proxy_pass\s+(\S+);", code) == [f"http://webserver:{port}"]
    assert "/etc/nginx/htpasswd" in mounts and "/etc/nginx/tls" in mounts


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
        env = services[name]["environment"]
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
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    ingress = values["ingress"]
    assert ingress["enabled"] and ingress["dagsterWebserver"]["tls"]["enabled"]
    assert ingress["annotations"]["nginx.ingress.kubernetes.io/auth-type"] == "basic"
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
    assert values["runLauncher"]["config"]["customRunLauncher"]["class"] == "DefaultRunLauncher"


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
