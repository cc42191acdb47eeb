# edgenas compile image: target checks, ORT quantization and the Hailo Dataflow Compiler (DFC) driver.
# The DFC 3.x runs on Linux x86_64 only, Python 3.10, NumPy 1.x (reference/hailo.md §1.1).
#
#   docker build -f docker/compile.Dockerfile -t edgenas-compile .                  (needs the DFC wheel)
#   docker build -f docker/compile.Dockerfile --build-arg DFC=off -t edgenas-compile:nodfc .
#
# Build arguments (docs/containers.md):
#   BASE_IMAGE  Debian bookworm image with Python 3.10 and ca-certificates (default: the official python image).
#   DFC         require (default) | auto | off. require: vendor/hailo_dataflow_compiler-3.*.whl must be there, else
#               the build stops and says so. off: the "no-DFC" variant (check, quantize, estimate; `compile hef`
#               then reports that the DFC is missing).
#   HAILORT     auto (default) | require | off: vendor/hailort-*-cp3XX-*.whl (the x86 wheel, for HEF inspection
#               without a device: `edgenas compile estimate`).
#   CA_BUNDLE   PEM file or directory in the build context, appended to the CA bundle (TLS-intercepting proxies).
ARG BASE_IMAGE=python:3.10-slim-bookworm

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
COPY docker/requirements/compile.txt /tmp/req/compile.txt
RUN pip install -r /tmp/req/compile.txt
# Build arguments declared here, not above, so that their values do not invalidate the layers above.
ARG DFC=require
ARG HAILORT=auto
COPY vendor/README.md vendor/hailo_dataflow_compiler-3.*.whl vendor/hailort-*.whl /tmp/vendor/
# The DFC's pygraphviz dependency builds from source: compilers and graphviz headers here, the graphviz
# libraries in the final stage (listed in /opt/final-apt.txt). Our pins stay: the lock is a constraint.
# DL3008 (apt versions unpinned): bookworm's point releases replace these versions on the mirror; pins would break.
# hadolint ignore=DL3008
RUN : > /opt/final-apt.txt; \
    if [ "$DFC" != off ] && ls /tmp/vendor/hailo_dataflow_compiler-3.*.whl >/dev/null 2>&1; then \
      dev=$(python3 -c 'import os, sysconfig; print("" if os.path.exists(sysconfig.get_paths()["include"] + "/Python.h") else "python3-dev")'); \
      apt-get update && apt-get install -y --no-install-recommends build-essential graphviz libgraphviz-dev ${dev:+"$dev"} \
      && rm -rf /var/lib/apt/lists/* && echo graphviz > /opt/final-apt.txt; \
    fi; \
    install-vendor-wheels.sh "$DFC" DFC /tmp/req/compile.txt /tmp/vendor 'hailo_dataflow_compiler-3.*.whl'; \
    py=$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])'); \
    install-vendor-wheels.sh "$HAILORT" HAILORT /tmp/req/compile.txt /tmp/vendor "hailort-*-$py-*.whl"
COPY runtime/ /src/runtime/
COPY compile/ /src/compile/
RUN pip install --no-deps /src/runtime /src/compile && pip check && edgenas compile --help >/dev/null

# ---- final -----------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
SHELL ["/bin/sh", "-eu", "-c"]
LABEL org.opencontainers.image.title="edgenas-compile" \
      org.opencontainers.image.description="edgenas compile: target checks, ORT quantization, Hailo DFC driver" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /opt/final-apt.txt /opt/final-apt.txt
# DL3008: as above (graphviz from bookworm; empty list without the DFC).
# hadolint ignore=DL3008
RUN if [ -s /opt/final-apt.txt ]; then \
      apt-get update && xargs apt-get install -y --no-install-recommends < /opt/final-apt.txt \
      && rm -rf /var/lib/apt/lists/*; \
    fi; \
    useradd --create-home --uid 1000 --user-group edgenas; \
    mkdir -p /runs && chown 1000:1000 /runs
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
USER 1000:1000
WORKDIR /runs
ENTRYPOINT ["edgenas"]
CMD ["compile", "--help"]
