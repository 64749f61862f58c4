#!/usr/bin/env bash
# Regenerates the committed Go code of every proto:
#   proto/aos/streaming.pb.go                 from proto/aos/streaming.proto
#   proto/probeagent/v1/control{,_grpc}.pb.go from proto/probeagent/v1/control.proto
#
# The generators are pinned so that a rerun reproduces the committed files byte for
# byte (the .pb.go headers record their versions, and tests check them):
#   protoc             3.21.12, Debian bookworm's protobuf-compiler package (plus
#                      libprotobuf-dev for google/protobuf/timestamp.proto)
#   protoc-gen-go      v1.36.12, the same version as the google.golang.org/protobuf
#                      runtime pinned in go.mod
#   protoc-gen-go-grpc v1.6.2
# protoc is installed with apt-get only when missing; the plugins are built into a
# temporary directory so nothing lands in GOPATH/bin or on PATH.
set -euo pipefail

PROTOC_WANT="3.21.12"
PROTOC_GEN_GO="google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"
PROTOC_GEN_GO_GRPC="google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v protoc >/dev/null 2>&1 || [ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
	echo "gen.sh: protoc or its well-known types not found, installing Debian's protobuf-compiler and libprotobuf-dev" >&2
	sudo_cmd=""
	if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
	$sudo_cmd apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq protobuf-compiler libprotobuf-dev >/dev/null
fi

have="$(protoc --version | awk '{print $2}')"
if [ "$have" != "$PROTOC_WANT" ]; then
	echo "gen.sh: protoc $have found, want $PROTOC_WANT; the output would not match the committed file" >&2
	exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install "$PROTOC_GEN_GO"
GOBIN="$tmp" go install "$PROTOC_GEN_GO_GRPC"

# Run from proto/ so the source paths recorded in the .pb.go files are relative to
# it ("aos/streaming.proto", "probeagent/v1/control.proto").
cd "$root/proto"
protoc \
	--plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--go_out=. --go_opt=paths=source_relative \
	aos/streaming.proto
protoc \
	--plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$tmp/protoc-gen-go-grpc" \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	probeagent/v1/control.proto
