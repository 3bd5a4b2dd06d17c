# One image for the operator, the shard and the front end (subcommands of
# bin/boxoffice). Static binary on a distroless, non-root base.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
COPY shard/ shard/
COPY frontend/ frontend/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags='-s -w' -o boxoffice ./cmd/boxoffice

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/boxoffice /boxoffice
USER 65532:65532
ENTRYPOINT ["/boxoffice"]
CMD ["manager"]
