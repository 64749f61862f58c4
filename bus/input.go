package bus

import "context"

// Input is a broker's reading side for one member: it takes part in the
// broker's share-out of the probes (JetStream key-value leases, a Kafka
// consumer group), calls m.Assign and m.Revoke as the member's share
// changes, and gives it the records of the probes it owns (m.Offer), each
// with an Acker the member calls after the tick that merged it. Run
// returns when ctx ends (after revoking every probe, leaving the share to
// the others) or when the broker fails for good. The caller ticks m.
type Input interface {
	Run(ctx context.Context, m *Member) error
}
