# syntax=docker/dockerfile:1
# Fluent Bit with the kinesis_kpl plugin, for linux/amd64 and linux/arm64:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --always --dirty) -t fluent-bit-kinesis-kpl .
#   docker run -e AWS_REGION=eu-west-1 -e KINESIS_STREAM=app-logs -p 24224:24224 fluent-bit-kinesis-kpl
#
# The build stage runs once, on the builder's own platform, and `make dist`
# cross-compiles the plugin for both architectures: the Makefile is the one
# description of how the plugin is built (a test checks that this file adds
# no flags of its own and uses go.mod's Go). Each image takes the .so of its
# own architecture.
ARG GO_VERSION=1.26
# A dated tag of the official image names one build and never moves.
ARG FLUENT_BIT_VERSION=5.2.0-20261117

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make dist VERSION="${VERSION}"

FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}
ARG TARGETARCH
COPY --from=build /src/dist/out_kinesis_kpl-linux-${TARGETARCH}.so /fluent-bit/plugins/out_kinesis_kpl.so
# plugins.conf loads the plugin for every configuration that names it in
# [SERVICE] Plugins_File, as image.conf does. FireLens writes its own
# fluent-bit.conf without it and includes firelens.conf: see
# conf/examples/firelens-task-definition.json.
COPY conf/examples/plugins.conf /fluent-bit/etc/plugins.conf
COPY conf/examples/image.conf /fluent-bit/etc/fluent-bit.conf
COPY conf/examples/firelens.conf /fluent-bit/etc/firelens.conf
# The distroless "nonroot" user. Reading a node's container logs from a
# hostPath needs root: conf/examples/kubernetes-daemonset.yaml sets it there.
USER 65532:65532
EXPOSE 24224
CMD ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"]
