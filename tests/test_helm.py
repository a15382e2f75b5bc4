"""The Kubernetes path, checked as far as this machine allows: against the Kubernetes schema.

No ``helm`` binary is installable here (Debian 12 has no ``helm`` package; PyPI's ``helm`` is an
unrelated system monitor), so Dagster's chart is not rendered. What is checked instead, with
``kubernetes-validate`` (the Kubernetes API's OpenAPI schema, strict: an unknown field fails):

* every manifest we ship beside the values (deploy/helm/access.yaml, data-pvc.yaml), as applied;
* the objects the values imply for our code: the code location's Deployment and the Job the
  K8sRunLauncher creates for each run (the run pod gets the code location's image, environment,
  secrets and volumes through ``includeConfigInLaunchedRuns``), built here from values.yaml the way
  the chart and dagster-k8s assemble them, so a misplaced volume, secret or resource key fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_pipelines.core import paths

kubernetes_validate = pytest.importorskip("kubernetes_validate")
HELM = paths.PROJECT_ROOT / "deploy" / "helm"
VERSIONS = ("1.29.0", "1.33.0")  # Kubernetes releases Dagster 1.13's chart is used on


def validate(manifest: dict[str, Any]) -> None:
    for version in VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)


def values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def code_deployment(vals: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = vals["dagster-user-deployments"]["deployments"]
    return deployment


def container(vals: dict[str, Any], args: list[str], resources: dict[str, Any]) -> dict[str, Any]:
    deployment = code_deployment(vals)
    image = deployment["image"]
    return {
        "name": "dagster",
        "image": f"{image['repository']}:{image['tag']}",
        "imagePullPolicy": image["pullPolicy"],
        "args": args,
        "env": [*deployment["env"], {"name": "DAGSTER_PG_PASSWORD", "valueFrom": {"secretKeyRef": {
            "name": vals["global"]["postgresqlSecretName"], "key": "postgresql-password"}}}],
        "envFrom": [{"secretRef": {"name": s["name"]}} for s in deployment["envSecrets"]],
        "volumeMounts": deployment["volumeMounts"],
        "resources": resources,
    }  # fmt: skip


@pytest.mark.parametrize("name", ["access.yaml", "data-pvc.yaml"])
def test_shipped_manifests_are_valid_kubernetes_objects(name: str) -> None:
    documents = [d for d in yaml.safe_load_all((HELM / name).read_text()) if d]
    assert documents
    for document in documents:
        validate(document)


def test_the_code_location_and_each_runs_pod_as_the_values_imply_them() -> None:
    vals = values()
    deployment = code_deployment(vals)
    labels = {"app.kubernetes.io/name": "dagster", **deployment["labels"]}
    code = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"agent-pipelines-dagster-user-deployments-{deployment['name']}"},
        "spec": {
            "replicas": deployment["replicaCount"],
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            **container(
                                vals,
                                [
                                    "dagster",
                                    "api",
                                    "grpc",
                                    "-h",
                                    "0.0.0.0",
                                    "-p",
                                    str(deployment["port"]),
                                    *deployment["dagsterApiGrpcArgs"],
                                ],
                                deployment["resources"],
                            ),
                            "ports": [{"name": "grpc", "containerPort": deployment["port"]}],
                        }
                    ],
                    "volumes": deployment["volumes"],
                },
            },
        },
    }
    validate(code)

    launcher = vals["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"  # each run its own Job and pod
    k8s = launcher["config"]["k8sRunLauncher"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"]  # the run pods get the code's config
    run = container(vals, ["dagster", "api", "execute_run", "{}"], k8s["resources"])
    run["envFrom"] += [{"secretRef": {"name": s["name"]}} for s in k8s["envSecrets"]]
    run["volumeMounts"] = [*run["volumeMounts"], *k8s["volumeMounts"]]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "dagster-run-0123456789abcdef",
            "labels": {"app.kubernetes.io/component": "run_worker"},
        },
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": deployment["labels"]},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [run],
                    "volumes": [*deployment["volumes"], *k8s["volumes"]],
                },
            },
        },
    }
    validate(job)

    # Every run pod mounts the data volume, which therefore must be mountable from several nodes.
    claims = {v["persistentVolumeClaim"]["claimName"] for v in job["spec"]["template"]["spec"]["volumes"]}
    pvc = yaml.safe_load((HELM / "data-pvc.yaml").read_text())
    assert claims == {pvc["metadata"]["name"]}
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    queued = vals["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert {"key": "agent_pipelines/kind", "value": "live_detector", "limit": 1} in queued[
        "tagConcurrencyLimits"
    ]


def test_an_invalid_object_is_refused() -> None:
    """The validator is strict: a misplaced key (a volume under the container) fails."""
    broken = yaml.safe_load((HELM / "data-pvc.yaml").read_text())
    broken["spec"]["volumes"] = [{"name": "data"}]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_readme_says_what_was_run_and_what_was_only_validated() -> None:
    text = Path(paths.PROJECT_ROOT / "README.md").read_text()
    assert "kubernetes-validate" in text and "not rendered" in text
