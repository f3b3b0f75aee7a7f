"""The process's cluster configuration (in-cluster or from a kubeconfig), and the official client on it."""

from __future__ import annotations

import os

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from review_operator.k8s.errors import ConfigError

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


def load_configuration(kubeconfig: str | None = None) -> client.Configuration:
    """The cluster configuration `AsyncKube` (and the official client) connect with.

    `kubeconfig` (or `$KUBECONFIG`, or `~/.kube/config`) wins when given; otherwise, inside a pod,
    the ServiceAccount is used. Raises `ConfigError` when neither is usable.
    """
    configuration = client.Configuration()
    try:
        if kubeconfig is None and os.environ.get(IN_CLUSTER_ENV) and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration
            )
    except ConfigException as exc:
        raise ConfigError(f"no Kubernetes configuration: {exc}") from exc
    return configuration


def load_api_client(kubeconfig: str | None = None, pool_size: int | None = None) -> client.ApiClient:
    """The official (synchronous) client on `load_configuration(kubeconfig)`.

    `pool_size` bounds the HTTP connections kept open: it should match the number of threads that
    call the API at once, or the extra calls open and drop connections.
    """
    configuration = load_configuration(kubeconfig)
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)
