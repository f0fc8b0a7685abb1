# syntax=docker/dockerfile:1
# bsc as a container image: `docker compose up --build` (docker-compose.yml)
# or `docker build --build-arg VERSION=$(git describe --tags --always)
# --build-arg COMMIT=$(git rev-parse --short HEAD) -t bsc .`

# Build: cgo on, mattn/go-sqlite3 needs it (gcc is in the golang image).
FROM golang:1.26-bookworm AS build
WORKDIR /src
# go.mod may name a newer patch release than the image carries.
ENV CGO_ENABLED=1 GOTOOLCHAIN=auto
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath \
      -ldflags "-s -w -X github.com/bsc-sim/bsc/internal/version.Version=${VERSION} -X github.com/bsc-sim/bsc/internal/version.Commit=${COMMIT}" \
      -o /out/bsc ./cmd/bsc

# Run: the same Debian release as the builder, so the cgo binary finds its glibc.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bsc \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin bsc \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=build /out/bsc /usr/local/bin/bsc
USER 10001:10001
WORKDIR /data
# The SQLite database (and its -wal/-shm files) lives here.
VOLUME ["/data"]
EXPOSE 8080
# Ready = GET /readyz answers 200. The slim image has no curl; bash's
# /dev/tcp is enough for one HTTP/1.0 request.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/bsc"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--db", "/data/bsc.db"]
