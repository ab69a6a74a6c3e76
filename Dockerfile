# syntax=docker/dockerfile:1
# The adeflow image: `adeflow worker` by default. The compose file's sim profile runs the same image as the ARM
# simulator (`adeflow sim serve`), so a rehearsal exercises exactly the code that will run against Azure.
#
#   docker build -t adeflow-worker:0.1.0 .
#
# No credentials are baked in: Azure identity and Temporal credentials come from the container's environment
# (or mounted files) at run time.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY adeflow ./adeflow
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY azuresim ./azuresim
# Runtime dependencies only (no [dev] extras: no test tools, no Temporal dev server binaries).
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 adeflow \
    && useradd --system --uid 10001 --gid adeflow --home-dir /app --no-create-home --shell /usr/sbin/nologin adeflow
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels adeflow && rm -rf /wheels
WORKDIR /app
# Sample fleets for the simulator (sim profile); the worker itself does not read them.
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
