// Package fabric is the central-load benchmark: N simulated devices with M
// server ports (and uplinks), each probe evaluated twice in the same run,
// once with pushdown (the probe's edge part on every device, partials to
// the centre as the agent exports them) and once with raw streaming (every
// interface's value as an Apstra ProbeMessage in the streaming framing, the
// whole probe evaluated centrally). It measures what the centre receives
// per interval (bytes, messages), the centre's CPU per tick (timed apart
// from the devices' work) and the latency from a counter change to the
// central anomaly, in ticks and in time, with the real pipeline pieces:
// probe.Partition and Instance, StageUpdate encoding, the agent's Emitter,
// agent/stream's frame decoding and the controller's wire message.
//
// It also holds the synthetic fabric counters the controller's benchmarks
// share (Batches, Advance, RawMessage).
package fabric
