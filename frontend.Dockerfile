# syntax=docker/dockerfile:1
# The pycache BuildKit frontend image, built where a registry is reachable:
#   docker buildx build -f frontend.Dockerfile -t pycache-frontend .
#   (multi-arch: add --platform linux/amd64,linux/arm64 --push; each platform compiles natively)
# Machines without a registry (this project's dev and CI machines) use scripts/frontend-image.sh
# instead: it builds the same static binary on the host and wraps it with
# scripts/frontend-local.Dockerfile. Keep ENTRYPOINT, USER and labels identical in both files.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETPLATFORM
WORKDIR /src
# A static glibc binary (static-pie): --target keeps the crt-static flag off build scripts and
# proc macros. Sources are bind-mounted, so only Cargo.toml, Cargo.lock and src/ are sent; add a
# bind mount here if the crate grows a build.rs or a proto/ directory.
RUN --mount=type=bind,source=Cargo.toml,target=Cargo.toml \
    --mount=type=bind,source=Cargo.lock,target=Cargo.lock \
    --mount=type=bind,source=src,target=src \
    --mount=type=cache,id=pycache-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=pycache-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=pycache-target-${TARGETPLATFORM},target=/src/target,sharing=locked \
    set -eux; \
    triple="$(uname -m)-unknown-linux-gnu"; \
    RUSTFLAGS='-C target-feature=+crt-static' \
      cargo build --locked --release --target "$triple" --bin pycache; \
    install -D -m 0755 "target/$triple/release/pycache" /out/pycache; \
    ldd /out/pycache 2>&1 | grep -qE 'statically linked|not a dynamic executable' \
      || { echo "pycache is not a static binary" >&2; exit 1; }

FROM scratch
# Frontend capabilities the binary implements; declare only what is implemented (see
# scripts/frontend-image.sh, whose CAPS must equal this default).
ARG PYCACHE_FRONTEND_CAPS=moby.buildkit.frontend.subrequests
COPY --from=build /out/pycache /pycache
LABEL moby.buildkit.frontend.network.none="true" \
      moby.buildkit.frontend.caps="${PYCACHE_FRONTEND_CAPS}"
USER 65532:65532
ENTRYPOINT ["/pycache", "frontend"]
