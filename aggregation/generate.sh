#!/bin/sh
# Regenerates aggregation/pb/messages.pb.go from aggregation/pb/messages.proto.
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-go v1.36.12
# (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12) on PATH
# or in $(go env GOPATH)/bin.
#
# protoc runs from the module root so that the file registers under its full
# path (aggregation/pb/messages.proto) and cannot collide with another
# messages.proto linked into the same program.
set -eu
cd "$(dirname "$0")/.."
PATH="$PATH:$(go env GOPATH)/bin"
protoc -I . --go_out=. --go_opt=paths=source_relative aggregation/pb/messages.proto
