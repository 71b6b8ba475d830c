# Rendered by npmatrix for cell "pi32-pip" on linux/arm/v7. Edit dockerfiles/*.j2, not this.
FROM npmatrix-base:trixie-arm-v7-7aa471694c7d
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN printf '%s\n' '[global]' 'extra-index-url=https://www.piwheels.org/simple' > /etc/pip.conf
RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert \
    --mount=type=cache,id=npmatrix-pip-arm-v7,target=/root/.cache/pip \
    python3 -m pip --version \
 && (python3 -m pip debug --verbose 2>/dev/null | grep -A 5 '^Compatible tags' || true) \
 && PIP_CONFIG_FILE=/run/secrets/pipconf python3 -m pip install --only-binary=:all: "numpy==2.1.3" "scipy==1.16.3" "pandas==2.2.3" "scikit-learn==1.6.1"
LABEL org.npmatrix.cell="pi32-pip" org.npmatrix.platform="linux/arm/v7"
