"""The Kueue peer's configuration and objects (tests/harness/kueue.py): what Kueue is asked to do."""

from __future__ import annotations

from typing import Any

from tests.harness.kueue import (
    QUEUE_LABEL,
    manager_config,
    pod_requests,
    queues,
    repository_queues,
    suspended_job,
)

POD: dict[str, Any] = {
    "metadata": {"name": "p", "labels": {"a": "b"}, "annotations": {"sim/duration": "2000ms"}},
    "spec": {
        "restartPolicy": "Never",
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
        "containers": [
            {
                "name": "c",
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"}},
            }
        ],
    },
}


def test_the_cluster_queue_limits_pods_and_covers_every_requested_resource() -> None:
    flavor, cq, lq = queues("q", "ns", 20, pod_requests(POD))
    assert flavor["kind"] == "ResourceFlavor"
    group = cq["spec"]["resourceGroups"][0]
    assert group["coveredResources"] == ["pods", "cpu", "ephemeral-storage", "memory"]
    quotas = {r["name"]: r["nominalQuota"] for r in group["flavors"][0]["resources"]}
    assert quotas["pods"] == 20
    assert group["flavors"][0]["name"] == flavor["metadata"]["name"]
    assert cq["spec"]["namespaceSelector"] == {}
    assert lq["metadata"] == {"name": "q", "namespace": "ns"}
    assert lq["spec"] == {"clusterQueue": "q"}


def test_a_job_is_created_suspended_in_its_local_queue_with_the_review_pod() -> None:
    job = suspended_job("review-00001", POD, "q")
    assert job["metadata"]["labels"] == {QUEUE_LABEL: "q"}
    assert job["spec"]["suspend"] is True
    assert (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["backoffLimit"]) == (1, 1, 0)
    template = job["spec"]["template"]
    assert template["metadata"] == {"labels": {"a": "b"}, "annotations": {"sim/duration": "2000ms"}}
    assert template["spec"]["containers"] == POD["spec"]["containers"]


def test_the_manager_keeps_the_shipped_settings_and_changes_only_what_a_host_process_needs() -> None:
    shipped = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "clientConnection": {"qps": 50, "burst": 100},
        "controller": {"groupKindConcurrency": {"Job.batch": 5}},
        "leaderElection": {"leaderElect": True},
        "integrations": {"frameworks": ["batch/job", "pod"]},
    }
    config = manager_config(shipped, 9443, "/tmp/certs", 8443, 8081)
    assert config["clientConnection"] == {"qps": 50, "burst": 100}
    assert config["controller"] == shipped["controller"]
    assert config["leaderElection"] == {"leaderElect": False}
    assert config["internalCertManagement"] == {"enable": False}
    assert config["webhook"] == {"port": 9443, "host": "127.0.0.1", "certDir": "/tmp/certs"}
    assert config["integrations"] == {"frameworks": ["batch/job"]}
    assert config["featureGates"] == {"VisibilityOnDemand": False}
    assert config["metrics"]["bindAddress"] == "127.0.0.1:8443"


def test_repository_queues_share_a_cohorts_quota_and_borrow_at_most_the_per_repo_limit() -> None:
    flavor, cohort, *rest = repository_queues("mix", "ns", ["r1", "r2"], 20, 2, pod_requests(POD))
    assert (flavor["kind"], cohort["kind"]) == ("ResourceFlavor", "Cohort")
    group = cohort["spec"]["resourceGroups"][0]
    assert {r["name"]: r["nominalQuota"] for r in group["flavors"][0]["resources"]}["pods"] == 20
    queues_by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in rest:
        queues_by_kind.setdefault(obj["kind"], []).append(obj)
    assert [q["metadata"]["name"] for q in queues_by_kind["ClusterQueue"]] == ["r1", "r2"]
    for cq in queues_by_kind["ClusterQueue"]:
        assert cq["spec"]["cohortName"] == "mix"
        group = cq["spec"]["resourceGroups"][0]
        assert group["coveredResources"] == ["pods", "cpu", "ephemeral-storage", "memory"]
        pods = next(r for r in group["flavors"][0]["resources"] if r["name"] == "pods")
        assert pods == {"name": "pods", "nominalQuota": 0, "borrowingLimit": 2}
        others = [r for r in group["flavors"][0]["resources"] if r["name"] != "pods"]
        assert all(r["nominalQuota"] == 0 and "borrowingLimit" not in r for r in others)
    assert [(q["metadata"], q["spec"]) for q in queues_by_kind["LocalQueue"]] == [
        ({"name": "r1", "namespace": "ns"}, {"clusterQueue": "r1"}),
        ({"name": "r2", "namespace": "ns"}, {"clusterQueue": "r2"}),
    ]
