# syntax=docker/dockerfile:1.7
# Vision worker on NVIDIA GPUs: batched ONNX Runtime with the CUDA provider (onnxruntime-gpu, cuDNN 9) and
# faiss-gpu-cu12. The bundled models are baked in at /opt/p2p/models; mount a volume there (or set
# P2P_DETECTOR_PATH / P2P_CLIP_IMAGE_PATH / P2P_INDEX_DIR) to run other models without rebuilding. No torch.
# Build from the repository root:
#   docker build -f docker/vision.Dockerfile -t pixels2posts-vision:0.1.0 .
# Hosts need an NVIDIA driver for CUDA 13.0 (>= 580) and the NVIDIA container toolkit. CUDA 13 because the locked
# onnxruntime-gpu (PyPI's 1.31.1) is the CUDA 13 build: its CUDA provider links libcublas.so.13 and libcudart.so.13,
# so on a CUDA 12 base it cannot load (readelf; the H200 run of docs/performance.md used CUDA 13 libraries).
# faiss-gpu-cu12 brings its own CUDA 12 libraries as wheels; the two runtimes in one process were not run together
# yet. CUDA 13 needs a Turing or newer GPU.
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04

# ---- build the virtualenv (Ubuntu 24.04's Python 3.12) from the hashed lock, then the project
FROM ${CUDA_IMAGE} AS builder
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY docker/requirements-gpu.txt docker/
RUN pip install --no-deps --require-hashes -r docker/requirements-gpu.txt
# the build context is what .dockerignore lets through: pyproject.toml, LICENSE, the four packages, the docker/
# scripts and locks, and models/ (baked in when present; an empty folder otherwise, for a mounted volume)
COPY . /src
# the wheel carries the models as data files too; the image keeps one copy, at /opt/p2p/models (mountable)
RUN mkdir -p /src/models && pip install --no-deps /src && rm -rf /opt/venv/share/pixels2posts/models

# ---- runtime: CUDA + cuDNN runtime libraries, Python, the venv, the models; non-root. CUDA's and numba's JIT
# caches go to /tmp, the only writable path under a read-only root filesystem
FROM ${CUDA_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 p2p \
 && useradd --system --uid 10001 --gid p2p --create-home --home-dir /home/p2p p2p \
 && mkdir -p /data/blobs \
 && chown -R p2p:p2p /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /src/models/ /opt/p2p/models/
COPY --chmod=0755 docker/entrypoint.py /usr/local/bin/p2p-entrypoint
COPY --chmod=0755 docker/healthcheck.py /usr/local/bin/p2p-healthcheck
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REMAP_SIGTERM=SIGQUIT \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    CUDA_CACHE_PATH=/tmp/cuda-cache \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    P2P_DATA_DIR=/data \
    P2P_BLOB_DIR=/data/blobs \
    P2P_MODELS_DIR=/opt/p2p/models \
    P2P_ORT_PROVIDERS=auto
USER 10001:10001
WORKDIR /home/p2p
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["p2p-healthcheck", "vision"]
ENTRYPOINT ["p2p-entrypoint"]
CMD ["vision"]
