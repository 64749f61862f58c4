package stream

import (
	"encoding/json"
	"net"
	"testing"
)

func TestAppendJSONLine(t *testing.T) {
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}
	line, err := AppendJSONLine(nil, Received{Seq: 1000, Sequenced: true, Remote: remote, Message: probeMessage()})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"seq_num":1000,"remote":"192.0.2.1:4242","message":{"timestamp":"1700000000000000","origin_name":"bp1",` +
		`"origin_hostname":"leaf1","perf_mon":{"probe_message":{"property":[{"name":"interface","value":"eth0"},` +
		`{"name":"system_id","value":"525400AB"}],"int64_value":"42","probe_id":"p1","stage_name":"s1",` +
		`"blueprint_id":"bp1","item_id":"i1","probe_label":"lbl"}}}}` + "\n"
	if string(line) != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}

	line, err = AppendJSONLine(nil, Received{Message: probeAlert()})
	if err != nil {
		t.Fatal(err)
	}
	v = nil
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	if _, ok := v["seq_num"]; ok {
		t.Error("unsequenced line has seq_num")
	}
	alert := v["message"].(map[string]any)["alert"].(map[string]any)
	if alert["severity"] != "HIGH" || alert["raised"] != true {
		t.Errorf("alert %v", alert)
	}
}
