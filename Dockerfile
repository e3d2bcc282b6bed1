# syntax=docker/dockerfile:1
#
# FlowState in a container: a static binary on a distroless base, running as
# a non-root user, with its data file on the /data volume.
#
#	docker build --build-arg VERSION=v1.0.0 --build-arg REVISION=$(git rev-parse HEAD) -t flowstate .
#	docker run -p 8080:8080 -v flowstate-data:/data flowstate
#
# The web client's bundles in web/dist are committed and embedded by the Go
# build, so the image needs no Node.js.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first, in a layer of their own, so that a change to the code
# does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
ARG VERSION=dev
ARG REVISION=
# CGO_ENABLED=0: a static binary that runs on an image without libc.
# -buildvcs=false: .git is not in the build context; REVISION stands in.
RUN --mount=type=cache,target=/go/pkg/mod \
	--mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
	-o /out/flowstate ./cmd/flowstate

# The data directory, owned by distroless's nonroot user (65532): the
# final image has no shell to create it, and a new named volume takes the
# ownership of the directory it is mounted on.
RUN mkdir -p /out/data && chown 65532:65532 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowstate /flowstate
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
ENV FLOWSTATE_ADDR=0.0.0.0:8080 \
	FLOWSTATE_DATA=/data/flowstate.db \
	FLOWSTATE_LOG_FORMAT=json
EXPOSE 8080
# Distroless has no curl: the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
	CMD ["/flowstate", "healthcheck"]
# SIGTERM drains: sessions get "going away", rooms are saved. Give it time
# with docker stop -t 15 (the server's own bound is 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/flowstate"]
CMD ["serve"]
