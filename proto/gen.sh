#!/usr/bin/env bash
# Regenerates proto/aos/streaming.pb.go from proto/aos/streaming.proto.
#
# Both generators are pinned so that a rerun reproduces the committed file byte for
# byte (the .pb.go header records their versions, and a test checks it):
#   protoc        3.21.12, Debian bookworm's protobuf-compiler package
#   protoc-gen-go v1.36.12, the same version as the google.golang.org/protobuf runtime
#                 pinned in go.mod
# protoc is installed with apt-get only when missing; protoc-gen-go is built into a
# temporary directory so nothing lands in GOPATH/bin or on PATH.
set -euo pipefail

PROTOC_WANT="3.21.12"
PROTOC_GEN_GO="google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v protoc >/dev/null 2>&1; then
	echo "gen.sh: protoc not found, installing Debian's protobuf-compiler" >&2
	sudo_cmd=""
	if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
	$sudo_cmd apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq protobuf-compiler >/dev/null
fi

have="$(protoc --version | awk '{print $2}')"
if [ "$have" != "$PROTOC_WANT" ]; then
	echo "gen.sh: protoc $have found, want $PROTOC_WANT; the output would not match the committed file" >&2
	exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install "$PROTOC_GEN_GO"

# Run from proto/ so the source path recorded in the .pb.go is "aos/streaming.proto".
cd "$root/proto"
protoc \
	--plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--go_out=. --go_opt=paths=source_relative \
	aos/streaming.proto
