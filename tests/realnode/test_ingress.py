"""Deliveries through a real ingress controller: Traefik in front of the chart's Ingress and Service.

Traefik (tests/harness/traefik.py) serves the chart's Ingress with TLS from a kubernetes.io/tls
Secret whose certificate a test CA signed; clients trust only that CA and send the Ingress's host as
SNI and Host. Only `/webhook/github` reaches the webhook; a body over the webhook's limit is refused
by Traefik's buffering middleware before any of it reaches a pod; the address Traefik saw reaches the
webhook's log line through `X-Forwarded-For`, whatever the client wrote in that header.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography import x509

from tests.fakes.anthropic_api import text
from tests.fakes.runner_harness import review_json
from tests.harness.chart import CHART, RELEASE
from tests.harness.hostnet import HOST_IP
from tests.harness.testca import ServerCert, server_cert
from tests.harness.traefik import Traefik
from tests.integration.webhook_helpers import example, signed_headers
from tests.realnode.product import Product

pytestmark = pytest.mark.timeout(600)

CLIENT_IP = "127.0.0.1"  # the test's source address: not Traefik's (the bridge address)
FORGED_CLIENT = "203.0.113.9"  # what a client claims in X-Forwarded-For
TRAEFIK_404 = "404 page not found\n"  # Go's http.NotFound: Traefik's answer when no router matches
BODY_LIMIT = yaml.safe_load((CHART / "values.yaml").read_text())["webhook"]["config"]["maxBodyBytes"]


@dataclass
class Edge:
    """Traefik serving the chart's Ingress, and a client that trusts only the test CA."""

    traefik: Traefik
    host: str
    cert: ServerCert
    context: ssl.SSLContext

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], host: str | None = None
    ) -> tuple[int, str]:
        """POST over HTTPS to Traefik with the Ingress's host as SNI (and as Host unless `host`)."""
        return await self.request("POST", path, body, {**headers, "Host": host or self.host})

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, sni: str = ""
    ) -> tuple[int, str]:
        connector = aiohttp.TCPConnector(local_addr=(CLIENT_IP, 0), ssl=self.context)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.request(
                method,
                f"https://{HOST_IP}:{self.traefik.port}{path}",
                data=body,
                headers=headers or {"Host": self.host},
                server_hostname=sni or self.host,
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp,
        ):
            return resp.status, await resp.text()

    async def routed(self) -> bool:
        """True once a GET of the delivery path reaches the webhook (its 405 for GET)."""
        try:
            status, _ = await self.request("GET", "/webhook/github")
        except aiohttp.ClientError:
            return False
        return status == 405

    async def peer_certificate(self, sni: str) -> x509.Certificate:
        """The certificate Traefik presents for a server name (not verified: compared by the caller)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _, writer = await asyncio.open_connection(
            HOST_IP, self.traefik.port, ssl=context, server_hostname=sni
        )
        try:
            der: bytes = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
        return x509.load_der_x509_certificate(der)

    def access_entry(self, delivery: str) -> dict[str, Any]:
        """Traefik's one access-log entry for a request with this X-GitHub-Delivery."""
        path = self.traefik.access_log
        entries: list[dict[str, Any]] = [
            json.loads(line) for line in path.read_text().splitlines() if delivery in line
        ]
        assert len(entries) == 1, entries
        return entries[0]


@pytest.fixture(scope="module")
async def edge(product: Product, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Edge]:
    ingress = product.kubectl_json("get", "ingress", f"{RELEASE}-review-operator-webhook")
    host = ingress["spec"]["rules"][0]["host"]
    secret = ingress["spec"]["tls"][0]["secretName"]
    workdir = tmp_path_factory.mktemp("traefik")
    cert = server_cert(host)
    (workdir / "tls.crt").write_bytes(cert.cert_pem)
    (workdir / "tls.key").write_bytes(cert.key_pem)
    product.plane.kubectl("create", "secret", "tls", secret, "-n", product.namespace,
                          f"--cert={workdir / 'tls.crt'}", f"--key={workdir / 'tls.key'}")  # fmt: skip
    (workdir / "tls.key").unlink()
    context = ssl.create_default_context(cadata=cert.ca_pem.decode())  # the test CA only
    traefik = Traefik(product.plane, product.namespace, workdir, BODY_LIMIT)
    edge = Edge(traefik, host, cert, context)
    try:
        await asyncio.to_thread(traefik.start)
        for _ in range(120):
            if await edge.routed():
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"Traefik never routed to the webhook; its log:\n{traefik.log()[-4000:]}")
        yield edge
    finally:
        await asyncio.to_thread(traefik.stop)
        product.plane.kubectl("delete", "secret", secret, "-n", product.namespace, check=False)
    for secret_value in (product.webhook_secret, traefik.token, cert.key_pem.decode()):
        assert secret_value not in traefik.log()


def reviewjob_names(product: Product) -> set[str]:
    return {job["metadata"]["name"] for job in product.reviewjobs()}


def delivery_lines(product: Product, delivery: str) -> list[dict[str, Any]]:
    """The webhook's `delivery` log lines for one X-GitHub-Delivery id (from either replica)."""
    found = []
    for line in product.webhook_logs().splitlines():
        _, _, rest = line.partition("] ")  # kubectl's --prefix
        if delivery in rest:
            entry = json.loads(rest)
            if entry.get("message") == "delivery":
                found.append(entry)
    return found


def signed(
    product: Product, payload: dict[str, Any], event: str = "pull_request"
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, signed_headers(body, event, secret=product.webhook_secret)


async def test_tls_serves_the_secrets_certificate_for_the_ingress_host_only(edge: Edge) -> None:
    # Every other test's client verifies the chain to the test CA and the host name.
    ours = x509.load_pem_x509_certificate(edge.cert.cert_pem)
    assert await edge.peer_certificate(edge.host) == ours
    assert await edge.peer_certificate("elsewhere.example.com") != ours  # Traefik's default certificate
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await edge.request("GET", "/webhook/github", sni="elsewhere.example.com")


async def test_signed_delivery_over_https_reaches_the_webhook_and_creates_one_reviewjob(
    product: Product, edge: Edge
) -> None:
    built = product.built
    pull = product.double.add_pull(product.repo, 21, built.head_sha, built.base_sha)
    product.model.script = [text(review_json("Reviewed behind Traefik.", []))]
    before = reviewjob_names(product)
    body, headers = signed(product, product.pr_payload(21, built.head_sha, built.base_sha))
    status, answer = await edge.post("/webhook/github", body, headers)
    assert status == 201, answer
    name = json.loads(answer)["reviewjob"]
    assert reviewjob_names(product) - before == {name}
    [logged] = delivery_lines(product, headers["X-GitHub-Delivery"])
    assert (logged["status"], logged["outcome"]) == (201, "accepted"), logged
    # The review runs to the end, so no pod of this test outlives it.
    job = await product.wait_final(name)
    assert job["status"]["phase"] == "Succeeded", job["status"]
    await product.wait_posted(name)
    assert len(pull.reviews) == 1, pull.reviews


async def test_the_client_address_reaches_the_webhook_log_and_a_forged_one_does_not(
    product: Product, edge: Edge
) -> None:
    body, headers = signed(product, example("ping"), event="ping")
    headers["X-Forwarded-For"] = FORGED_CLIENT
    status, answer = await edge.post("/webhook/github", body, headers)
    assert status == 200, answer
    [logged] = delivery_lines(product, headers["X-GitHub-Delivery"])
    # Traefik trusts no forwarded headers from clients: it replaced the forged chain with the
    # address it saw, and the webhook's TCP peer is Traefik itself.
    assert (logged["client"], logged["peer"]) == (CLIENT_IP, HOST_IP), logged
    assert FORGED_CLIENT not in json.dumps(logged)


async def test_forged_signature_through_the_ingress_is_401_and_creates_nothing(
    product: Product, edge: Edge
) -> None:
    built = product.built
    before = reviewjob_names(product)
    body, headers = signed(product, product.pr_payload(22, built.head_sha, built.base_sha))
    forged = signed_headers(body, "pull_request", delivery=headers["X-GitHub-Delivery"], secret="not-it")
    status, _ = await edge.post("/webhook/github", body, forged)
    assert status == 401
    [logged] = delivery_lines(product, headers["X-GitHub-Delivery"])
    assert logged["outcome"] == "unauthorized", logged
    assert reviewjob_names(product) == before


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/", None),
        ("/metrics", None),  # the webhook serves it: only inside the cluster
        ("/healthz", None),
        ("/webhook/github/", None),  # Exact, not Prefix
        ("/webhook/github/x", None),
        ("/webhook/githubx", None),
        ("/webhook/github", "elsewhere.example.com"),  # another Host behind the same SNI
    ],
)
async def test_other_paths_and_hosts_get_traefiks_404_and_create_nothing(
    product: Product, edge: Edge, path: str, host: str | None
) -> None:
    built = product.built
    before = reviewjob_names(product)
    body, headers = signed(product, product.pr_payload(23, built.head_sha, built.base_sha))
    status, answer = await edge.post(path, body, headers, host=host)
    # Traefik's own 404 (the webhook's aiohttp would answer "404: Not Found"): no router matched.
    assert (status, answer) == (404, TRAEFIK_404)
    assert reviewjob_names(product) == before
    entry = edge.access_entry(headers["X-GitHub-Delivery"])
    assert (entry["DownstreamStatus"], "RouterName" in entry, "ServiceName" in entry) == (404, False, False)


async def test_oversized_body_is_refused_by_traefik_before_any_of_it_reaches_the_webhook(
    product: Product, edge: Edge
) -> None:
    built = product.built
    before = reviewjob_names(product)
    payload = product.pr_payload(24, built.head_sha, built.base_sha)
    payload["padding"] = "x" * BODY_LIMIT  # a valid, signed delivery, one limit too large
    body, headers = signed(product, payload)
    status, _ = await edge.post("/webhook/github", body, headers)
    assert status == 413
    # Traefik's router matched, its buffering middleware answered, no webhook pod was asked.
    entry = edge.access_entry(headers["X-GitHub-Delivery"])
    assert (entry["DownstreamStatus"], entry["OriginStatus"], "ServiceName" in entry) == (413, 0, False), (
        entry
    )
    assert delivery_lines(product, headers["X-GitHub-Delivery"]) == []
    assert reviewjob_names(product) == before
