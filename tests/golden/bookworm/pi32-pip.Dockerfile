# Rendered by npmatrix for cell "pi32-pip" on linux/arm/v7. Edit dockerfiles/*.j2, not this.
FROM npmatrix-base:bookworm-arm-v7-3086a2d7d889
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert \
    --mount=type=cache,id=npmatrix-pip-arm-v7,target=/root/.cache/pip \
    python3 -m pip --version \
 && (python3 -m pip debug --verbose 2>/dev/null | grep -A 5 '^Compatible tags' || true) \
 && PIP_CONFIG_FILE=/run/secrets/pipconf python3 -m pip install --only-binary=:all: "numpy==2.3.5"
LABEL org.npmatrix.cell="pi32-pip" org.npmatrix.platform="linux/arm/v7"
