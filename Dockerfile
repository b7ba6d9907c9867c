# matcher: the service on its embedded default (SQLite), data and keys on volumes.
# Build: docker build -t matcher .
# Run:   docker run -p 50051:50051 -v matcher-data:/data -v matcher-keys:/keys matcher
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORT_DISABLE_TELEMETRY=1 \
    PIP_NO_CACHE_DIR=1 \
    MATCHER_DATA_DIR=/data \
    MATCHER_KEK_FILE=/keys/kek

WORKDIR /app
COPY pyproject.toml README.md ./
COPY matcher ./matcher
COPY lifecycle ./lifecycle
RUN pip install --no-cache-dir ".[postgres]" \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin matcher \
 && mkdir -p /data /keys && chown matcher:matcher /data /keys && chmod 700 /data /keys

USER matcher
VOLUME ["/data", "/keys"]
EXPOSE 50051
# The key-encryption key belongs on its own volume (or in MATCHER_KEK), never beside the database.
CMD ["matcher", "serve", "--listen", "0.0.0.0:50051"]
