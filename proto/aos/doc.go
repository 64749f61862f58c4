// Package aos holds the Go types for the Apstra streaming wire format (protobuf
// package aos.streaming), which probe-agent sends so that receivers already built
// for Apstra can read it unchanged.
//
// streaming.pb.go is generated from streaming.proto by proto/gen.sh; edit the
// .proto and rerun the script rather than touching the generated file.
package aos
