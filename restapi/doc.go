// Package restapi holds what the agent's and the controller's REST APIs
// share, so that both answer alike: JSON answers and errors, the mux's 404
// and 405 as JSON, bounded JSON-object bodies, write authentication (a
// bearer token, client certificates) with the rule that keeps an API
// read-only until one of them is configured and off the network until
// writes are authenticated, blueprint scoping of /api/blueprints/{bp}/...
// paths, and the processor catalog of /telemetry/processors.
//
// It depends on the engine (probe) only, never on the agent or the
// controller: the controller must not link agent code.
package restapi
