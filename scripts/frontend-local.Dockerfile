# The pycache frontend image, from a binary built on the host (scripts/frontend-image.sh builds the
# static binary and passes a context holding only it). No base image is pulled, so this builds with
# no registry. Keep ENTRYPOINT, USER and labels in step with /frontend.Dockerfile.
FROM scratch
# Frontend capabilities this binary implements; scripts/frontend-image.sh passes its CAPS list.
ARG PYCACHE_FRONTEND_CAPS
COPY pycache /pycache
LABEL moby.buildkit.frontend.network.none="true" \
      moby.buildkit.frontend.caps="${PYCACHE_FRONTEND_CAPS}"
USER 65532:65532
ENTRYPOINT ["/pycache", "frontend"]
