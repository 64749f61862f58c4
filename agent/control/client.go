package control

import "github.com/probe-agent/probe-agent/controlclient"

// The client lives in controlclient, which links no agent code; these names
// keep the control package's API whole for its own tests and callers.
type ClientConfig = controlclient.Config

// Dial connects to an agent's control plane (controlclient.Dial).
var Dial = controlclient.Dial

// FieldViolations returns the problems of an ApplyProbes error
// (controlclient.FieldViolations).
var FieldViolations = controlclient.FieldViolations
