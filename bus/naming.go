package bus

import (
	"fmt"
	"strings"
)

// Token makes s usable as one token of a NATS subject, a JetStream
// consumer or stream name and a key of a JetStream key-value bucket: bytes
// other than ASCII letters, digits, '-' and '_' are written as '=' and two
// upper-case hex digits (so '.' is "=2E", '*' "=2A", '>' "=3E", a space
// "=20", '=' itself "=3D"), and the empty string is "=". It is reversible
// (Untoken), and the real ids travel in the record's headers anyway, so
// nothing depends on reading them back from a subject. Probe ids are UUIDs
// and system ids are usually host names or serial numbers: they come out
// unchanged.
func Token(s string) string {
	if s == "" {
		return "="
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Untoken reverses Token; it refuses what Token cannot have written.
func Untoken(t string) (string, error) {
	if t == "=" {
		return "", nil
	}
	if t == "" {
		return "", fmt.Errorf("empty token")
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		if c != '=' || i+2 >= len(t) {
			return "", fmt.Errorf("token %q: byte %d: %q is not a plain byte or an =XX escape", t, i, c)
		}
		hi, lo := unhex(t[i+1]), unhex(t[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("token %q: byte %d: %q is not an =XX escape", t, i, t[i:i+3])
		}
		v := byte(hi<<4 | lo)
		if plainByte(v) {
			return "", fmt.Errorf("token %q: byte %d: %q escapes a plain byte", t, i, t[i:i+3])
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Subject is the NATS subject of one device's records of one probe:
// <prefix>.<blueprint>.<probe>.<device>, each part a Token. All records of
// a probe match ProbeFilter, so one consumer reads every device's
// partials of a probe; the device as the last token lets a member that
// takes a probe over read each device's latest record straight from the
// stream (the last message per subject) instead of waiting for the next
// tick. prefix may itself hold dots (it is the operator's: "probeagent",
// "dc1.probeagent").
func Subject(prefix, blueprint, probeID, device string) string {
	return prefix + "." + Token(blueprint) + "." + Token(probeID) + "." + Token(device)
}

// ProbeFilter is the subject filter matching every device's records of
// one probe.
func ProbeFilter(prefix, blueprint, probeID string) string {
	return prefix + "." + Token(blueprint) + "." + Token(probeID) + ".*"
}

// StreamFilter is the subject filter of every record under prefix (what
// the JetStream stream holds).
func StreamFilter(prefix string) string { return prefix + ".>" }

// KafkaTopic is the Kafka topic of a blueprint's records: one topic per
// prefix, shared by every blueprint (the key separates them).
func KafkaTopic(prefix string) string { return prefix }

// KafkaKey is the Kafka record key of a probe's records:
// <blueprint>/<probe>, each a Token. Every device's records of one probe
// have the same key, so they land in one partition and reach the one
// member of the consumer group that owns it, in the order they were
// written.
func KafkaKey(blueprint, probeID string) string { return Token(blueprint) + "/" + Token(probeID) }

// ValidPrefix checks a subject prefix or topic from a configuration: dot-
// separated tokens of plain bytes, no wildcards or spaces.
func ValidPrefix(p string) error {
	if p == "" {
		return fmt.Errorf("empty prefix")
	}
	for i, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("prefix %q: token %d is empty", p, i+1)
		}
		for j := 0; j < len(tok); j++ {
			if !plainByte(tok[j]) {
				return fmt.Errorf("prefix %q: %q is not allowed (letters, digits, '-', '_' and '.' between tokens)", p, tok[j])
			}
		}
	}
	return nil
}
