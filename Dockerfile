# One image for every role: `review-operator webhook | controller | checkout | runner`.
# Build: docker build -t review-operator:dev .   (kind: kind load docker-image review-operator:dev)
# With no registry (`make image`): BASE_IMAGE is a Python base made from Debian's packages, and a
# build-only CA bundle may be passed as the secret `build-ca` (read by pip, never stored in a layer).
ARG BASE_IMAGE=python:3.11-slim

# -- build: a self-contained virtualenv with the package and its locked-by-range dependencies ------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies (and the build backend) first, so a code change re-downloads nothing: the step below
# builds without network.
# pyproject.toml names README.md as the long description; a placeholder keeps README edits out of
# this layer's cache key.
COPY pyproject.toml ./
RUN --mount=type=secret,id=build-ca,required=false \
    if [ -s /run/secrets/build-ca ]; then export PIP_CERT=/run/secrets/build-ca; fi \
    && touch README.md && mkdir -p operator/review_operator && touch operator/review_operator/__init__.py \
    && pip install "setuptools>=69" wheel . && pip uninstall -y review-operator
COPY README.md ./
COPY operator ./operator
# claude-agent-sdk's platform wheel bundles the Claude Code CLI, so no Node.js is needed.
RUN pip install --no-deps --no-build-isolation . \
    && review-operator --help >/dev/null \
    && python -c "import claude_agent_sdk, kopf, review_operator"

# -- runtime: slim, git for the checkout init container, non-root ---------------------------------
FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home --shell /usr/sbin/nologin nonroot
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/nonroot
USER 65532:65532
WORKDIR /home/nonroot
# 8080: webhook and controller /healthz; 9090: controller /metrics.
EXPOSE 8080 9090
ENTRYPOINT ["review-operator"]
CMD ["--help"]
