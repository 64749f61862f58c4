package probe

import (
	"crypto/sha1"

	"github.com/google/uuid"
)

// nameUUID is uuid.NewSHA1(space, []byte(strings.Join(parts, ""))), the
// name-based (version 5) UUID, without its allocations: the name is put
// together in a buffer on the stack (on the heap past 256 bytes) and hashed
// with sha1.Sum rather than through a hash.Hash. Anomaly and item ids are
// derived on every anomaly raised or cleared, where the concatenation, the
// hash object and its Sum took four allocations per id.
func nameUUID(space uuid.UUID, parts ...string) uuid.UUID {
	var buf [256]byte
	b := append(buf[:0], space[:]...)
	for _, p := range parts {
		b = append(b, p...)
	}
	sum := sha1.Sum(b)
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = u[6]&0x0f | 5<<4 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}
