# syntax=docker/dockerfile:1
# One image, two roles: `docker run IMAGE engine serve --host 0.0.0.0` (the default) or
# `docker run IMAGE bot`. TORCH_INDEX picks the torch build: CUDA (default) or
# https://download.pytorch.org/whl/cpu for a small CPU-only image (e.g. for the bot).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu124
ARG TORCH_VERSION=2.6.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY migrations ./migrations
COPY beautynet ./beautynet
COPY engine ./engine
COPY bot ./bot
COPY infra ./infra
# A plain install: the package carries its migrations, bundled models and page (setup.py).
RUN pip install .

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin beautynet \
    && mkdir -p /data \
    && chown beautynet:beautynet /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BEAUTYNET_DATA_DIR=/data \
    BEAUTYNET_ENGINE_PORT=8765
WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8765
# The engine answers /healthz; the bot has no port, so its check is that it still runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; cmd = open('/proc/1/cmdline', 'rb').read(); sys.exit(0) if b'engine' not in cmd else urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BEAUTYNET_ENGINE_PORT', '8765'), timeout=4)"]
ENTRYPOINT ["beautynet"]
CMD ["engine", "serve", "--host", "0.0.0.0"]
