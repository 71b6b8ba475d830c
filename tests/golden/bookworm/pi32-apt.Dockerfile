# Rendered by npmatrix for cell "pi32-apt" on linux/arm/v7. Edit dockerfiles/*.j2, not this.
FROM npmatrix-base:bookworm-arm-v7-3086a2d7d889
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN --mount=type=cache,id=npmatrix-apt-bookworm-arm-v7,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,id=npmatrix-apt-lists-bookworm-arm-v7,target=/var/lib/apt/lists,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
 && echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >/etc/apt/apt.conf.d/90npmatrix-keep-debs \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3-numpy
RUN python3 -c "import sys; print(sys.version)"
LABEL org.npmatrix.cell="pi32-apt" org.npmatrix.platform="linux/arm/v7"
