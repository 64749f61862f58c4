// Package probeagentv1 holds the Go types and gRPC stubs of probe-agent's
// control plane (protobuf package probeagent.v1, service ProbeControl):
// controllers and probectl apply, list, get and delete the device's probes and
// watch their status through it. The server is agent/control.
//
// control.pb.go and control_grpc.pb.go are generated from control.proto by
// proto/gen.sh; edit the .proto and rerun the script rather than touching the
// generated files.
package probeagentv1
