# syntax=docker/dockerfile:1
# One image for every role: `review-operator webhook | controller | checkout | runner`.
# Build: docker build -t review-operator:dev .   (kind: kind load docker-image review-operator:dev)

# -- build: a self-contained virtualenv with the package and its locked-by-range dependencies ------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first so a code change does not re-download them.
COPY pyproject.toml README.md ./
RUN mkdir -p operator/review_operator && touch operator/review_operator/__init__.py \
    && pip install . && pip uninstall -y review-operator
COPY operator ./operator
# claude-agent-sdk's platform wheel bundles the Claude Code CLI, so no Node.js is needed.
RUN pip install --no-deps . \
    && review-operator --help >/dev/null \
    && python -c "import claude_agent_sdk, kopf, review_operator"

# -- runtime: slim, git for the checkout init container, non-root ---------------------------------
FROM python:3.11-slim AS runtime
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
