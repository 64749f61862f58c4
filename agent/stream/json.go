package stream

import (
	"bytes"
	"encoding/json"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
)

// jsonOptions keeps the .proto field names (origin_name, probe_message, ...) so
// the output matches Apstra's documentation and other tools reading the stream.
// As in every protobuf JSON mapping, 64-bit integers are strings.
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// AppendJSONLine appends m to dst as one compact JSON object and a newline:
// {"seq_num":N,"remote":"host:port","message":{...}}, with seq_num present only on
// a sequenced channel. It is the line format of `probectl receive -o json`.
func AppendJSONLine(dst []byte, m Received) ([]byte, error) {
	body, err := jsonOptions.Marshal(m.Message)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	if m.Sequenced {
		dst = append(dst, `"seq_num":`...)
		dst = strconv.AppendUint(dst, m.Seq, 10)
		dst = append(dst, ',')
	}
	if m.Remote != nil {
		dst = append(dst, `"remote":`...)
		dst = strconv.AppendQuote(dst, m.Remote.String())
		dst = append(dst, ',')
	}
	dst = append(dst, `"message":`...)
	// protojson deliberately varies its whitespace between builds; compacting gives
	// one stable line.
	var b bytes.Buffer
	if err := json.Compact(&b, body); err != nil {
		return dst, err
	}
	dst = append(dst, b.Bytes()...)
	return append(dst, '}', '\n'), nil
}
