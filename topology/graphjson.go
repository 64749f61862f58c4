package topology

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// ParseGraphJSON reads a plain graph document, the shape of an Apstra
// blueprint graph export:
//
//	{"nodes": {"<id>": {"type": "system", "role": "leaf", ...}, ...},
//	 "relationships": {"<id>": {"type": "hosted_interfaces",
//	                            "source_id": "<id>", "target_id": "<id>"}, ...}}
//
// A node's "id" field, when present, must equal its key. Every other field
// of a node is a property; numbers without a fraction become int64. Nodes
// and relationships keep the document's order. Errors name the file, the
// line and the key.
func ParseGraphJSON(data []byte, file string) (*Graph, error) {
	errAt := func(off int64, key, format string, args ...any) error {
		line, col := lineCol(data, off)
		return &Error{Pos: Position{File: file, Line: line, Col: col}, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	top, err := orderedObject(dec)
	if err != nil {
		return nil, errAt(dec.InputOffset(), "", "%v", err)
	}
	g := New()
	var nodes, rels []member
	for _, m := range top {
		switch m.key {
		case "nodes":
			if nodes, err = orderedObjectBytes(m.raw); err != nil {
				return nil, errAt(m.off, "nodes", "expected an object of nodes by id: %v", err)
			}
			if nodes == nil {
				nodes = []member{}
			}
			for i := range nodes {
				nodes[i].off += m.off
			}
		case "relationships":
			if rels, err = orderedObjectBytes(m.raw); err != nil {
				return nil, errAt(m.off, "relationships", "expected an object of relationships by id: %v", err)
			}
			for i := range rels {
				rels[i].off += m.off
			}
		}
	}
	if nodes == nil {
		return nil, errAt(0, "nodes", "required: a graph document is {\"nodes\": {...}, \"relationships\": {...}}")
	}
	for _, m := range nodes {
		key := "nodes." + m.key
		var props map[string]any
		d := json.NewDecoder(bytes.NewReader(m.raw))
		d.UseNumber()
		if err := d.Decode(&props); err != nil || props == nil {
			return nil, errAt(m.off, key, "expected an object")
		}
		typ, _ := props["type"].(string)
		if typ == "" {
			return nil, errAt(m.off, key+".type", "required, a non-empty string")
		}
		if id, ok := props["id"]; ok && id != m.key {
			return nil, errAt(m.off, key+".id", "%v differs from the node's key", id)
		}
		delete(props, "type")
		delete(props, "id")
		for k, v := range props {
			props[k] = convertNumbers(v)
		}
		if _, err := g.AddNode(m.key, typ, props); err != nil {
			return nil, errAt(m.off, key, "%v", err)
		}
	}
	for _, m := range rels {
		key := "relationships." + m.key
		var r map[string]any
		d := json.NewDecoder(bytes.NewReader(m.raw))
		d.UseNumber()
		if err := d.Decode(&r); err != nil || r == nil {
			return nil, errAt(m.off, key, "expected an object")
		}
		typ, _ := r["type"].(string)
		src, _ := r["source_id"].(string)
		dst, _ := r["target_id"].(string)
		switch {
		case typ == "":
			return nil, errAt(m.off, key+".type", "required, a non-empty string")
		case g.Node(src) == nil:
			return nil, errAt(m.off, key+".source_id", "%q is not a node", src)
		case g.Node(dst) == nil:
			return nil, errAt(m.off, key+".target_id", "%q is not a node", dst)
		}
		delete(r, "type")
		delete(r, "source_id")
		delete(r, "target_id")
		delete(r, "id")
		var props map[string]any
		if len(r) > 0 {
			props = map[string]any{}
			for k, v := range r {
				props[k] = convertNumbers(v)
			}
		}
		if _, err := g.AddRelationship(m.key, typ, g.Node(src), g.Node(dst), props); err != nil {
			return nil, errAt(m.off, key, "%v", err)
		}
	}
	return g, nil
}

// member is one key of a JSON object with its raw value and the offset at
// which the value starts.
type member struct {
	key string
	raw json.RawMessage
	off int64
}

func orderedObjectBytes(raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return orderedObject(dec)
}

// orderedObject reads one JSON object keeping its keys' order, which
// encoding/json's maps lose.
func orderedObject(dec *json.Decoder) ([]member, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("expected an object")
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		if seen[k] {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		out = append(out, member{key: k, raw: raw, off: dec.InputOffset() - int64(len(raw))})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the top-level object")
	}
	return out, nil
}

// convertNumbers turns json.Number into int64 or float64, recursively.
func convertNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = convertNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = convertNumbers(x[k])
		}
	}
	return v
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// MarshalJSON writes the graph in the form ParseGraphJSON reads.
func (g *Graph) MarshalJSON() ([]byte, error) {
	nodes := make(map[string]map[string]any, len(g.nodes))
	for _, n := range g.nodes {
		nodes[n.ID] = NodeJSON(n)
	}
	rels := make(map[string]map[string]any, len(g.rels))
	for _, r := range g.rels {
		m := map[string]any{"id": r.ID, "type": r.Type, "source_id": r.From.ID, "target_id": r.To.ID}
		for k, v := range r.Props {
			m[k] = v
		}
		rels[r.ID] = m
	}
	return json.Marshal(map[string]any{"nodes": nodes, "relationships": rels})
}

// NodeJSON is a node as Apstra's query API returns it: "id", "type" and its
// properties in one object.
func NodeJSON(n *Node) map[string]any {
	m := make(map[string]any, len(n.Props)+2)
	for k, v := range n.Props {
		m[k] = v
	}
	m["id"], m["type"] = n.ID, n.Type
	return m
}
