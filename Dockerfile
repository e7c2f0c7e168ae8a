# syntax=docker/dockerfile:1
# QPV service image: API (`qpv serve`), migrations and imports (`qpv db upgrade`, `qpv data
# sync`, `qpv geocoder import`) and the job worker (`qpv worker`) all run from it.
# No data is baked in: QPV and BAN files come from the /data volume or are downloaded by
# `qpv data sync` into QPV_HOME (a volume too).

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- web: the web page's scripts, styles and fonts, bundled from npm (web/package-lock.json) -
FROM node:20.19-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY web/build.mjs ./
COPY web/src ./src
# build.mjs writes ../app/web/static
RUN mkdir -p /src/app/web && npm run build

# --- build: a virtual environment with the runtime dependencies and the app ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /opt/qpv
# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall --yes qpv-service
COPY app ./app
COPY --from=web /src/app/web/static ./app/web/static
COPY migrations ./migrations
COPY geodata ./geodata
COPY alembic.ini ./
# Editable, at the path the runtime image uses: migrations and the sources manifest stay
# beside the package, where app.db.migrate and app.data.sources look for them.
RUN /opt/venv/bin/pip install --no-deps --editable . \
    && /opt/venv/bin/python -m compileall -q app

# --- runtime: the interpreter, the environment and the sources, nothing else ---------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="qpv-service" \
      org.opencontainers.image.description="Is this address in a QPV? API, CLI and job worker"
RUN groupadd --system --gid 10001 qpv \
    && useradd --system --uid 10001 --gid qpv --home-dir /var/lib/qpv --shell /usr/sbin/nologin qpv \
    && mkdir -p /var/lib/qpv /data \
    && chown qpv:qpv /var/lib/qpv
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/qpv /opt/qpv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QPV_HOME=/var/lib/qpv \
    QPV_DATA_DIR=/data \
    QPV_DOWNLOAD_DIR=downloads \
    QPV_METRICS_DIR=metrics \
    QPV_PORT=8000
WORKDIR /var/lib/qpv
USER 10001:10001
VOLUME ["/var/lib/qpv"]
EXPOSE 8000
# Ready, or degraded (the index answers while the database or a geocoder is down): 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(f\"http://127.0.0.1:{os.environ.get('QPV_PORT', '8000')}/readyz\", timeout=4)"]
CMD ["qpv", "serve", "--host", "0.0.0.0"]
