# Rendered by npmatrix for cell "pi32-apt" on linux/arm/v7. Edit dockerfiles/*.j2, not this.
FROM npmatrix-base:bookworm-arm-v7-3086a2d7d889
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-numpy \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -c "import sys; print(sys.version)"
LABEL org.npmatrix.cell="pi32-apt" org.npmatrix.platform="linux/arm/v7"
