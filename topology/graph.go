package topology

import (
	"fmt"
	"maps"
	"slices"
)

// Node types and relationship types the loaders create. Any other type may
// appear in a graph read from JSON.
const (
	TypeSystem          = "system"
	TypeInterface       = "interface"
	TypeLink            = "link"
	TypeRack            = "rack"
	TypeRedundancyGroup = "redundancy_group"

	RelHostedInterfaces  = "hosted_interfaces"
	RelLink              = "link"
	RelPartOfRack        = "part_of_rack"
	RelComposedOfSystems = "composed_of_systems"
	RelComposedOf        = "composed_of"
)

// Node is one vertex of the graph. Props holds its properties; values are
// nil, bool, int64, float64, string, []any or map[string]any (what the
// expression evaluator reads). "id" and "type" are not in Props.
type Node struct {
	ID    string
	Type  string
	Props map[string]any

	index int
	out   []Edge
	in    []Edge
}

// Edge is one relationship as seen from one of its ends: Rel is its type
// and Peer the node at the other end.
type Edge struct {
	Rel  string
	Peer *Node
}

// Index is the node's position in the graph's node list.
func (n *Node) Index() int { return n.index }

// Out lists the relationships leaving the node.
func (n *Node) Out() []Edge { return n.out }

// In lists the relationships arriving at the node.
func (n *Node) In() []Edge { return n.in }

// Get reads a property; "id" and "type" are the node's own. A property the
// node does not have reads as nil, as an unset attribute of an Apstra node
// reads as None.
func (n *Node) Get(key string) any {
	switch key {
	case "id":
		return n.ID
	case "type":
		return n.Type
	}
	return n.Props[key]
}

// String returns a property as a string, "" when it is absent or not a
// string.
func (n *Node) String(key string) string {
	s, _ := n.Get(key).(string)
	return s
}

// Relationship is one directed, typed relationship.
type Relationship struct {
	ID       string
	Type     string
	From, To *Node
	Props    map[string]any
}

// Graph is a fabric: nodes and relationships, indexed by id and by type.
// It is built once by a loader and then only read, so it is safe for
// concurrent readers.
type Graph struct {
	nodes  []*Node
	byID   map[string]*Node
	byType map[string][]*Node
	rels   []*Relationship
	relIDs map[string]bool
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{byID: map[string]*Node{}, byType: map[string][]*Node{}, relIDs: map[string]bool{}}
}

// AddNode adds a node; an empty or duplicate id is an error.
func (g *Graph) AddNode(id, typ string, props map[string]any) (*Node, error) {
	if id == "" {
		return nil, fmt.Errorf("node with an empty id")
	}
	if typ == "" {
		return nil, fmt.Errorf("node %q: empty type", id)
	}
	if _, dup := g.byID[id]; dup {
		return nil, fmt.Errorf("duplicate node id %q", id)
	}
	if props == nil {
		props = map[string]any{}
	}
	n := &Node{ID: id, Type: typ, Props: props, index: len(g.nodes)}
	g.nodes = append(g.nodes, n)
	g.byID[id] = n
	g.byType[typ] = append(g.byType[typ], n)
	return n, nil
}

// AddRelationship adds a relationship between two nodes of the graph. An
// empty id gets one made from the type and the ends.
func (g *Graph) AddRelationship(id, typ string, from, to *Node, props map[string]any) (*Relationship, error) {
	if typ == "" {
		return nil, fmt.Errorf("relationship %q: empty type", id)
	}
	if from == nil || to == nil {
		return nil, fmt.Errorf("relationship %q: missing end", id)
	}
	if id == "" {
		id = fmt.Sprintf("%s>%s>%s", from.ID, typ, to.ID)
		for i := 2; g.relIDs[id]; i++ {
			id = fmt.Sprintf("%s>%s>%s#%d", from.ID, typ, to.ID, i)
		}
	}
	if g.relIDs[id] {
		return nil, fmt.Errorf("duplicate relationship id %q", id)
	}
	r := &Relationship{ID: id, Type: typ, From: from, To: to, Props: props}
	g.relIDs[id] = true
	g.rels = append(g.rels, r)
	from.out = append(from.out, Edge{Rel: typ, Peer: to})
	to.in = append(to.in, Edge{Rel: typ, Peer: from})
	return r, nil
}

// Node finds a node by id.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

// Nodes lists every node in insertion order.
func (g *Graph) Nodes() []*Node { return g.nodes }

// NodesOfType lists the nodes of one type in insertion order.
func (g *Graph) NodesOfType(typ string) []*Node { return g.byType[typ] }

// HasType tells whether any node has this type.
func (g *Graph) HasType(typ string) bool { return len(g.byType[typ]) > 0 }

// Types lists the node types present, sorted.
func (g *Graph) Types() []string { return slices.Sorted(maps.Keys(g.byType)) }

// Relationships lists every relationship in insertion order.
func (g *Graph) Relationships() []*Relationship { return g.rels }

// HasRelationshipType tells whether any relationship has this type.
func (g *Graph) HasRelationshipType(typ string) bool {
	for _, r := range g.rels {
		if r.Type == typ {
			return true
		}
	}
	return false
}

// Neighbors lists the nodes reached from n over relationships of type rel
// in the given direction (out: n is the source).
func Neighbors(n *Node, rel string, out bool) []*Node {
	edges := n.in
	if out {
		edges = n.out
	}
	var res []*Node
	for _, e := range edges {
		if e.Rel == rel {
			res = append(res, e.Peer)
		}
	}
	return res
}
