# syntax=docker/dockerfile:1
#
# Tollgate: one static binary on a distroless base (CA certificates, time
# zone data, /etc/passwd with a nonroot user, and nothing else: no shell).
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t tollgate .
#   docker run -p 4000:4000 -v tollgate-data:/var/lib/tollgate -e AWS_REGION=us-east-1 tollgate
#
# Without arguments the container runs `tollgate serve --listen 0.0.0.0:4000`
# with the built-in defaults; pass `--config /etc/tollgate/tollgate.yaml` (and
# mount that file) to use a config file, whose `listen` must then be
# 0.0.0.0:4000 or similar.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tollgate ./cmd/tollgate
# The data directory, owned by the distroless nonroot user (65532), so that
# a named volume mounted there starts with the right owner.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tollgate /usr/local/bin/tollgate
COPY --from=build --chown=65532:65532 /out/data /var/lib/tollgate
# The default data_dir ./tollgate-data then lands inside the volume.
WORKDIR /var/lib/tollgate
VOLUME ["/var/lib/tollgate"]
USER 65532:65532
EXPOSE 4000
ENTRYPOINT ["/usr/local/bin/tollgate", "serve"]
CMD ["--listen", "0.0.0.0:4000"]
