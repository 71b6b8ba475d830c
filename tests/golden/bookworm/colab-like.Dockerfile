# Rendered by npmatrix for cell "colab-like" on linux/amd64. Edit dockerfiles/*.j2, not this.
FROM npmatrix-base:bookworm-amd64-65b69fad5283
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert \
    --mount=type=cache,id=npmatrix-pip-amd64,target=/root/.cache/pip \
    python3 -m pip --version \
 && (python3 -m pip debug --verbose 2>/dev/null | grep -A 5 '^Compatible tags' || true) \
 && PIP_CONFIG_FILE=/run/secrets/pipconf python3 -m pip install --only-binary=:all: "numpy==2.3.5"
LABEL org.npmatrix.cell="colab-like" org.npmatrix.platform="linux/amd64"
