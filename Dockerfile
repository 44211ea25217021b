# Builds out_kinesis_kpl.so with the same Go as `make build`, then puts it on
# the official Fluent Bit image with a plugins file that loads it.
#   docker build -t fluent-bit-kinesis-kpl .
#   docker run -e AWS_REGION=eu-west-1 -v $PWD/fluent-bit.conf:/fluent-bit/etc/fluent-bit.conf fluent-bit-kinesis-kpl
ARG GO_VERSION=1.26
ARG FLUENT_BIT_VERSION=4.2.0

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build

FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}
COPY --from=build /src/build/out_kinesis_kpl.so /fluent-bit/plugins/out_kinesis_kpl.so
COPY conf/examples/plugins.conf /fluent-bit/etc/plugins.conf
CMD ["/fluent-bit/bin/fluent-bit", "-e", "/fluent-bit/plugins/out_kinesis_kpl.so", "-c", "/fluent-bit/etc/fluent-bit.conf"]
