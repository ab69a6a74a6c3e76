# syntax=docker/dockerfile:1
# The adeflow images, one Dockerfile, three targets:
#   worker     (default) `adeflow worker`: the runtime dependencies of pyproject.toml and adeflow, nothing else
#   simulator  the worker image plus the `sim` extra (trustme), for the compose file's rehearsal (`adeflow sim serve`)
#   runtime    what both share
#
#   docker build -t adeflow-worker:0.1.0 .
#   docker build --target simulator -t adeflow-sim:0.1.0 .
#
# Supply chain: the base image is pinned by digest, and every Python package comes from a lock with hashes
# (`pip install --require-hashes`, wheels only): requirements-build.lock (the build backend),
# requirements.lock (runtime), requirements-sim.lock (runtime + sim). adeflow itself is built from the checkout
# with no index at all. Regenerate the locks with deploy/update-locks.sh; refresh the base image's digest with
#   docker buildx imagetools inspect python:3.11.11-slim-bookworm     # the index's "Digest:" line
# (the tag documents what the digest is; the build uses the digest). No credentials are baked in: Azure identity
# and Temporal credentials come from the container's environment or mounted secret files at run time.

FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5 AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The adeflow wheel: the hashed build backend first, then the sources, built without any index.
FROM base AS build
WORKDIR /src
COPY requirements-build.lock ./
RUN pip install --require-hashes --only-binary=:all: --no-deps -r requirements-build.lock
COPY pyproject.toml README.md ./
COPY adeflow ./adeflow
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY azuresim ./azuresim
RUN pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels .

# Dependencies before sources: the lock's layer is rebuilt only when the lock changes.
FROM base AS runtime
RUN groupadd --system --gid 10001 adeflow \
    && useradd --system --uid 10001 --gid adeflow --home-dir /app --no-create-home --shell /usr/sbin/nologin adeflow
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --only-binary=:all: --no-deps -r /tmp/requirements.lock \
    && pip check && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-index --no-deps /wheels/adeflow-*.whl && pip check && rm -rf /wheels
WORKDIR /app
# Sample fleets and manifests for the rehearsal (sim profile); the worker itself does not read them.
COPY examples ./examples
# The simulator writes its CA here; the compose file shares it with the workers through a volume.
RUN mkdir -p /var/lib/adeflow/sim && chown -R adeflow:adeflow /var/lib/adeflow
USER adeflow:adeflow
ENV ADEFLOW_METRICS_ADDRESS=0.0.0.0:9464 \
    ADEFLOW_LOG_FORMAT=json
EXPOSE 9464
# The Prometheus endpoint is served by the worker's SDK runtime: no answer means a dead or wedged worker.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["python", "-m", "worker.healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["adeflow"]
CMD ["worker"]

# The ARM simulator for rehearsals: the same code plus the simulator's throw-away CA library (trustme), which the
# worker image leaves out. The compose file's sim service gives it its command and health check.
FROM runtime AS simulator
USER root
COPY requirements-sim.lock /tmp/requirements-sim.lock
RUN pip install --require-hashes --only-binary=:all: --no-deps -r /tmp/requirements-sim.lock \
    && pip check && rm /tmp/requirements-sim.lock
USER adeflow:adeflow
EXPOSE 8443

# The default target (last stage): the worker.
FROM runtime AS worker
