# edgenas search image: supernet training, latency sampling, predictor, NSGA-II (PyTorch).
#
#   docker build -f docker/search.Dockerfile -t edgenas-search .                        (CPU torch, ~1 GB)
#   docker build -f docker/search.Dockerfile --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 \
#                -t edgenas-search:cuda .                                                (CUDA torch, several GB)
#
# Build arguments (docs/containers.md):
#   BASE_IMAGE           Debian bookworm image with Python 3.11 and ca-certificates (default: the official image).
#   TORCH                auto (default): vendor/torch-*.whl + vendor/torchvision-*.whl when both are there, else
#                        TORCH_INDEX_URL | vendor: the wheels must be in vendor/ | index: always TORCH_INDEX_URL.
#   TORCH_INDEX_URL      where torch/torchvision come from (default: PyTorch's CPU index; https://pypi.org/simple
#                        gives PyPI's CUDA build).
#   TORCH_VERSION, TORCHVISION_VERSION  the pair the project is tested with.
#   CA_BUNDLE            PEM file or directory in the build context, appended to the CA bundle.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- build -----------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
ARG CA_BUNDLE=docker/certs
SHELL ["/bin/sh", "-eu", "-c"]
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
COPY docker/scripts/add-ca-bundle.sh docker/scripts/install-vendor-wheels.sh /usr/local/bin/
COPY ${CA_BUNDLE} /tmp/extra-ca/
RUN add-ca-bundle.sh /tmp/extra-ca && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first: the largest layer, and it changes least often (so not constrained by the lock below).
# Build arguments declared here, not above, so that their values do not invalidate the layers above.
ARG TORCH=auto
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
COPY vendor/README.md vendor/torch-*.whl vendor/torchvision-*.whl /tmp/vendor/
RUN case "$TORCH" in \
      auto) if ls /tmp/vendor/torch*-*.whl >/dev/null 2>&1; then mode=vendor; else mode=index; fi ;; \
      vendor|index) mode="$TORCH" ;; \
      *) echo "TORCH=$TORCH: use auto, vendor or index" >&2; exit 1 ;; \
    esac; \
    if [ "$mode" = vendor ]; then \
      install-vendor-wheels.sh require TORCH /dev/null /tmp/vendor 'torch-*.whl' 'torchvision-*.whl'; \
    else \
      pip install --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"; \
    fi
COPY docker/requirements/search.txt /tmp/req/search.txt
RUN pip install -r /tmp/req/search.txt
COPY runtime/ /src/runtime/
COPY search/ /src/search/
RUN pip install --no-deps /src/runtime /src/search && pip check && edgenas search --help >/dev/null

# ---- final -----------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
SHELL ["/bin/sh", "-eu", "-c"]
LABEL org.opencontainers.image.title="edgenas-search" \
      org.opencontainers.image.description="edgenas search: supernet, latency predictor, NSGA-II (PyTorch)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN useradd --create-home --uid 1000 --user-group edgenas; mkdir -p /runs && chown 1000:1000 /runs
COPY --from=build /opt/venv /opt/venv
COPY configs/ /opt/edgenas/configs/
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    EDGENAS_CONFIGS=/opt/edgenas/configs MPLBACKEND=Agg
USER 1000:1000
WORKDIR /runs
ENTRYPOINT ["edgenas"]
CMD ["search", "--help"]
