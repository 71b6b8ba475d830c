# Rendered by npmatrix for cell "own-project" on linux/arm64. Edit dockerfiles/*.j2, not this.
FROM npmatrix-base:bookworm-arm64-8dce2e7c03da
ARG QEMU_CPU=cortex-a72
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# project: sha256:b92310366731f705bb8aa6b36abf275cfbd937d8a98e0db0d713bf7a37a1e7f6, 3 files
COPY npmatrix-project /opt/npmatrix-project
RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert \
    --mount=type=cache,id=npmatrix-pip-arm64,target=/root/.cache/pip \
    python3 -m pip --version \
 && (python3 -m pip debug --verbose 2>/dev/null | grep -A 5 '^Compatible tags' || true) \
 && PIP_CONFIG_FILE=/run/secrets/pipconf python3 -m pip install --only-binary=:all: "numpy==2.3.5" "pytest==8.3.4" /opt/npmatrix-project
LABEL org.npmatrix.cell="own-project" org.npmatrix.platform="linux/arm64"
