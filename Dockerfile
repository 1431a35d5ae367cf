# syntax=docker/dockerfile:1
#
# Tollgate: one static binary on a distroless base (CA certificates, time
# zone data, /etc/passwd with a nonroot user, and nothing else: no shell).
#
#   docker build \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     -t tollgate .
#   docker run -p 4000:4000 -v tollgate-data:/var/lib/tollgate -e AWS_REGION=us-east-1 tollgate
#
# Without arguments the container runs `tollgate serve --listen 0.0.0.0:4000`
# with the built-in defaults; pass `--config /etc/tollgate/tollgate.yaml` (and
# mount that file) to use a config file, whose `listen` must then be
# 0.0.0.0:4000 or similar.

# Base images, pinned by digest (the tag says what the image is, the digest
# decides which bytes are built on): a tag that moves cannot change a release
# build behind a reviewer's back. The builder is the Go release go.mod asks
# for, so no toolchain is downloaded during the build. Refresh a pin with
#
#   docker buildx imagetools inspect golang:1.26.8-bookworm
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
#
# (the index digest on the "Digest:" line), or let Renovate or Dependabot do
# it; override either for a one-off build with --build-arg GO_IMAGE=… or
# RUNTIME_IMAGE=….
ARG GO_IMAGE=golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
# What `tollgate version` and tollgate_build_info report. The build context
# has no .git (see .dockerignore), so without these the binary knows only
# its Go version.
ARG VERSION=dev
ARG REVISION=
ARG CREATED=
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${REVISION} -X main.date=${CREATED}" \
      -o /out/tollgate ./cmd/tollgate
# The data directory, owned by the distroless nonroot user (65532), so that
# a named volume mounted there starts with the right owner.
RUN mkdir -p /out/data

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="Tollgate" \
      org.opencontainers.image.description="LLM gateway for Claude Code and other Anthropic, Bedrock and OpenAI clients: virtual keys, budgets, routing to AWS Bedrock or the Anthropic API, usage metering." \
      org.opencontainers.image.source="https://github.com/tollgate-gw/tollgate" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/tollgate /usr/local/bin/tollgate
COPY --from=build --chown=65532:65532 /out/data /var/lib/tollgate
# The default data_dir ./tollgate-data then lands inside the volume.
WORKDIR /var/lib/tollgate
VOLUME ["/var/lib/tollgate"]
USER 65532:65532
EXPOSE 4000
# The image has no shell or curl: the binary checks itself. It GETs
# http://127.0.0.1:4000/readyz (the process serves and the database answers);
# a config that moves the port or serves TLS needs a matching
# `tollgate healthcheck --url …` in the orchestrator's own check.
HEALTHCHECK --interval=30s --timeout=6s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/tollgate", "healthcheck", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/tollgate", "serve"]
# All interfaces, so that the port can be published. Not loopback, so the
# image comes up closed: until a client key exists (keys: in a mounted
# config, or `tollgate keys create`), model calls get a 401 saying so.
CMD ["--listen", "0.0.0.0:4000"]
