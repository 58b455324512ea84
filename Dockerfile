# syntax=docker/dockerfile:1
# One image for every service and job of the JKN claims backbone; the command picks the role:
#   python -m services.<grouper|verifier|payments|notifier>.app   a service (HTTP on SERVICE_HTTP_PORT)
#   claimsctl migrate | python -m deploy.topics | claimsctl ...    jobs and operator commands
# Build from the repository root:  docker build -t jkn-claims:local .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: wheels into a virtualenv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The build backend is pinned too (no unpinned build isolation download).
RUN pip install "pip==26.3" "setuptools==84.2.1" "wheel==0.48.0"
COPY pyproject.toml constraints.txt ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
# Every dependency pinned by constraints.txt; binary wheels only (no compiler needed, none shipped).
RUN pip install --no-build-isolation --only-binary=:all: -c constraints.txt . \
 && python -m compileall -q /opt/venv/lib

# ---------------------------------------------------------------- runtime: the virtualenv, nothing else
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="jkn-claims" \
      org.opencontainers.image.description="JKN hospital-claims backbone: grouper, verifier, payments, notifier"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /tmp --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SERVICE_HTTP_HOST=0.0.0.0 \
    SERVICE_HTTP_PORT=8080 \
    SERVICE_LOG_FORMAT=json
# No source tree in the image: the code runs from the installed package. The working directory is
# root-owned and empty, so nothing writable (such as /tmp) is ever on the import path.
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# Readiness of the service in this container (database and broker answer); jobs disable it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-m", "deploy.healthcheck", "/health/ready"]
CMD ["claimsctl", "--help"]
