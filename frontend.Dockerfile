# syntax=docker/dockerfile:1
# The pycache BuildKit frontend image, built where a registry is reachable:
#   docker buildx build -f frontend.Dockerfile -t pycache-frontend .
#   multi-arch, published (see README "Publishing the frontend image"):
#   docker buildx build -f frontend.Dockerfile --platform linux/amd64,linux/arm64 \
#     -t <org>/pycache-frontend:<version> --push .
# Each platform's binary is cross-compiled on the build platform (no emulation): a Rust stage on
# $BUILDPLATFORM with the target's C toolchain for linking.
# Machines without a registry (this project's dev and CI machines) use scripts/frontend-image.sh
# instead: it builds the same static binary on the host and wraps it with
# scripts/frontend-local.Dockerfile. Keep ENTRYPOINT, USER and labels identical in both files.

ARG RUST_VERSION=1

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETARCH
WORKDIR /src
# The target's linker and static C library when it is not the build platform's.
RUN --mount=type=cache,id=pycache-apt-cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,id=pycache-apt-lib,target=/var/lib/apt,sharing=locked \
    set -eux; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu; pkgs="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
      arm64) triple=aarch64-unknown-linux-gnu; pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    if [ "$triple" != "$(uname -m)-unknown-linux-gnu" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $pkgs; \
    fi; \
    rustup target add "$triple"; \
    echo "$triple" > /triple
# A static glibc binary (static-pie): --target keeps the crt-static flag off build scripts and
# proc macros. Sources are bind-mounted, so only Cargo.toml, Cargo.lock, src/ and the generated
# protocol code in proto/gen/ (which src/proto includes) are sent.
RUN --mount=type=bind,source=Cargo.toml,target=Cargo.toml \
    --mount=type=bind,source=Cargo.lock,target=Cargo.lock \
    --mount=type=bind,source=src,target=src \
    --mount=type=bind,source=proto/gen,target=proto/gen \
    --mount=type=cache,id=pycache-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=pycache-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=pycache-target-${TARGETARCH},target=/src/target,sharing=locked \
    set -eux; \
    triple="$(cat /triple)"; \
    linker="$(echo "$triple" | sed 's/-unknown-linux-gnu$//')-linux-gnu-gcc"; \
    if [ "$triple" = "$(uname -m)-unknown-linux-gnu" ]; then linker=cc; fi; \
    env_triple="$(echo "$triple" | tr 'a-z-' 'A-Z_')"; \
    env "CARGO_TARGET_${env_triple}_LINKER=$linker" RUSTFLAGS='-C target-feature=+crt-static' \
      cargo build --locked --release --target "$triple" --bin pycache; \
    install -D -m 0755 "target/$triple/release/pycache" /out/pycache; \
    if readelf -l /out/pycache | grep -q 'program interpreter'; then \
      echo "pycache is not a static binary" >&2; exit 1; \
    fi

FROM scratch
# Frontend capabilities the binary implements; declare only what is implemented (see
# scripts/frontend-image.sh, whose CAPS must equal this default).
ARG PYCACHE_FRONTEND_CAPS=moby.buildkit.frontend.contexts,moby.buildkit.frontend.subrequests
COPY --from=build /out/pycache /pycache
LABEL moby.buildkit.frontend.network.none="true" \
      moby.buildkit.frontend.caps="${PYCACHE_FRONTEND_CAPS}"
USER 65532:65532
ENTRYPOINT ["/pycache", "frontend"]
