package kafkabus

import "github.com/twmb/franz-go/pkg/kgo"

// Internals the external tests (package kafkabus_test, which imports
// bustest and so the agent, which imports this package) use.
var (
	Murmur2      = murmur2
	EndOffset    = endOffset
	SortedParts  = sortedParts
	DecodeRecord = decodeRecord
)

// AdminClient is a plain client of c's cluster (topics, offsets).
func AdminClient(c Config) (*kgo.Client, error) { return kgo.NewClient(c.withDefaults().common()...) }

// Client is the sink's producer.
func (s *Sink) Client() *kgo.Client { return s.cl }
