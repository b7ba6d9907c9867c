# matcher: the service on its embedded default (SQLite), data and keys on volumes.
# Build: docker build -t matcher .
# Run:   docker run -p 50051:50051 -v matcher-data:/data -v matcher-keys:/keys \
#            --ulimit core=0 --ulimit memlock=-1 matcher
# (memlock=-1 lets the service lock its memory out of swap; without it the start log says
# "memory NOT locked". The service turns core dumps off itself; core=0 says so to the host too.)
FROM python:3.11-slim

LABEL org.opencontainers.image.title="matcher" \
      org.opencontainers.image.description="Case-scoped face and plate matching over gRPC that enforces a city's surveillance and privacy policy" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/matcher"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORT_DISABLE_TELEMETRY=1 \
    PIP_NO_CACHE_DIR=1 \
    MATCHER_DATA_DIR=/data \
    MATCHER_KEK_FILE=/keys/kek \
    MATCHER_MODEL_DIR=/models \
    MATCHER_MODEL_MANIFEST=/app/models/manifest.json \
    PYTHONMALLOC=malloc \
    GLIBC_TUNABLES=glibc.malloc.perturb=255:glibc.malloc.tcache_count=0
# The last two: freed memory is overwritten, so purged templates and plates do not linger in the
# heap (README, "What the service guarantees about memory"); `matcher serve` would otherwise
# re-execute itself to set them.

WORKDIR /app
COPY pyproject.toml README.md ./
COPY matcher ./matcher
COPY lifecycle ./lifecycle
COPY models/manifest.json ./models/manifest.json
# insightface pulls in the GUI OpenCV build; replace it by the headless one (one cv2 only).
RUN pip install --no-cache-dir ".[postgres]" \
 && pip uninstall -y opencv-python \
 && pip install --no-cache-dir --force-reinstall --no-deps opencv-python-headless==5.0.0.93 \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin matcher \
 && mkdir -p /data /keys /models && chown matcher:matcher /data /keys /models \
 && chmod 700 /data /keys

USER matcher
# Models are installed into /models with `matcher models install --from DIR --pack NAME`;
# the image never contains weights (several packs are licensed for research only).
VOLUME ["/data", "/keys", "/models"]
EXPOSE 50051 9464
# Liveness: the process answers. Readiness (pending purges done, galleries rebuilt) is
# `matcher health` without --service; an orchestrator should probe both (docs/deploy/).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["matcher", "--target", "127.0.0.1:50051", "--timeout", "4", "health", "--service", "liveness"]
# The key-encryption key belongs on its own volume (or in MATCHER_KEK), never beside the database.
CMD ["matcher", "serve", "--listen", "0.0.0.0:50051"]
