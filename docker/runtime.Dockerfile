# edgenas runtime image: bundle tools, ONNX Runtime, optional HailoRT, the live runner. Entrypoint: `edgenas`.
# Lean on purpose: this is the image that goes on the edge device (Raspberry Pi 5: linux/arm64).
#
#   docker build -f docker/runtime.Dockerfile -t edgenas-runtime .          (from the repository root)
#
# Build arguments (docs/containers.md):
#   BASE_IMAGE  Debian bookworm image with Python 3.11 and ca-certificates (default: the official python image;
#               docker/make-base-image.sh builds one without a registry).
#   HAILORT     auto (default) | require | off. auto installs vendor/hailort-*-cp311-*.whl when it is there.
#               A vendor/hailort_*_<arch>.deb, if present, is unpacked too (libhailort, hailortcli).
#   CA_BUNDLE   PEM file or directory in the build context, appended to the CA bundle (TLS-intercepting proxies).
# Works with the classic builder (no BuildKit features).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment in /opt/venv, then copied whole into the final stage -------------------------
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
# Dependencies first (pinned; docker/lock-requirements.sh), so editing the source does not reinstall them.
COPY docker/requirements/runtime.txt /tmp/req/runtime.txt
RUN pip install -r /tmp/req/runtime.txt
# Build arguments declared here, not above, so that their values do not invalidate the layers above.
ARG HAILORT=auto
COPY vendor/README.md vendor/hailort-*-cp311-*.whl /tmp/vendor/
RUN install-vendor-wheels.sh "$HAILORT" HAILORT /tmp/req/runtime.txt /tmp/vendor 'hailort-*-cp311-*.whl'
COPY runtime/ /src/runtime/
RUN pip install --no-deps /src/runtime && pip check && edgenas --version

# ---- final ---------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG HAILORT=auto
SHELL ["/bin/sh", "-eu", "-c"]
LABEL org.opencontainers.image.title="edgenas-runtime" \
      org.opencontainers.image.description="edgenas runtime: bundles, ONNX Runtime / HailoRT backends, live camera runner" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY vendor/README.md vendor/hailort_*.deb /tmp/vendor/
# HailoRT's shared library and hailortcli come from its .deb; unpacked without maintainer scripts (they expect
# systemd and build the kernel driver, which belongs on the host).
RUN arch=$(dpkg --print-architecture); \
    for deb in /tmp/vendor/hailort_*_"$arch".deb; do \
      if [ -f "$deb" ] && [ "$HAILORT" != off ]; then dpkg-deb -x "$deb" / && ldconfig && echo "unpacked $deb"; fi; \
    done; \
    rm -rf /tmp/vendor; \
    useradd --create-home --uid 1000 --user-group edgenas; \
    mkdir -p /runs /bundles && chown 1000:1000 /runs /bundles
COPY --from=build /opt/venv /opt/venv
COPY docker/scripts/entrypoint.sh /usr/local/bin/edgenas-entrypoint
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
USER 1000:1000
WORKDIR /runs
# No HEALTHCHECK here: most uses are one-shot commands (bundle validate, bench). compose.yaml checks the
# long-running `edgenas run` service through its Prometheus /metrics endpoint.
ENTRYPOINT ["edgenas-entrypoint"]
CMD ["--help"]
