package kafkabus

// PartitionOf is the partition of key in a topic of n partitions, as
// Kafka's default partitioner (and kgo.StickyKeyPartitioner(nil)) picks
// it: murmur2 of the key, sign bit cleared, modulo n. A member uses it to
// know which probes the partitions it is assigned hold.
func PartitionOf(key string, n int) int32 {
	if n <= 0 {
		return 0
	}
	return int32((murmur2([]byte(key)) & 0x7fffffff) % uint32(n))
}

// murmur2 is MurmurHash2 (32 bits) with the seed Kafka uses.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> 24
		k *= m
		h = h*m ^ k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
