package lab

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/probe-agent/probe-agent/topology"
)

// NetnsPrefix starts every namespace a lab makes: "plab.<lab>.<node>". The
// dots cannot appear in a lab name Build accepts, so one lab's prefix never
// matches another's namespaces ("plab.a." is not a prefix of "plab.a-b.x").
const NetnsPrefix = "plab."

// Address pools. Fabric links (switch to switch, and anything that is not a
// switch-server link) get a /31 each from FabricPool; every switch-server
// link gets its own /24 from ServerPool, the switch .1 and the server .2.
var (
	FabricPool = netip.MustParsePrefix("10.0.0.0/16")
	ServerPool = netip.MustParsePrefix("172.16.0.0/12")
)

// Options are the choices Build takes from the command line.
type Options struct {
	// PortBase is the first TCP port on 127.0.0.1 the lab's processes
	// listen on: switch i (in file order) gets PortBase+2i for its control
	// plane and PortBase+2i+1 for its REST API, the controller the next
	// port after the switches. 0 picks a base from the lab name
	// (DefaultPortBase).
	PortBase int
}

// Plan is everything a lab is made of, in the order Up creates it.
type Plan struct {
	Lab    string `json:"lab"`
	Prefix string `json:"netns_prefix"`
	Nodes  []Node `json:"nodes"`
	Links  []Link `json:"links"`
	// Controller is where probe-controller's API listens.
	Controller Controller `json:"controller"`
	// Notes say what of the file is not built, and why.
	Notes []string `json:"notes,omitempty"`
}

// Node is one namespace.
type Node struct {
	Name       string `json:"name"`
	Netns      string `json:"netns"`
	Kind       string `json:"kind"`
	Role       string `json:"role"`
	SystemType string `json:"system_type"` // switch or server
	SystemID   string `json:"system_id"`
	// Forwarding switches on IPv4 forwarding (switches route between their
	// links with the static routes below).
	Forwarding bool        `json:"forwarding,omitempty"`
	Interfaces []Interface `json:"interfaces"`
	Routes     []Route     `json:"routes,omitempty"`
	// Agent is set for switches: where its probe-agent listens.
	Agent *Agent `json:"agent,omitempty"`
}

// Interface is one interface inside a node's namespace, under the name the
// node's Linux sees (topology.MapInterface's Node name).
type Interface struct {
	Name string `json:"name"`
	// Type is veth or dummy (a single-endpoint link: its peer is outside
	// the lab).
	Type string `json:"type"`
	// Address is the interface's address with its prefix length ("" for
	// none).
	Address string `json:"address,omitempty"`
	// Peer is "node:interface" at the other end of a veth.
	Peer string `json:"peer,omitempty"`
}

// Link is one veth pair (or one dummy for a single-endpoint link).
type Link struct {
	// Role is fabric (/31), server (a switch-server link with its own
	// subnet) or external (a single-endpoint link, built as a dummy).
	Role   string   `json:"role"`
	Subnet string   `json:"subnet,omitempty"`
	A      Endpoint `json:"a"`
	B      Endpoint `json:"b"`
}

// Endpoint is one end of a link.
type Endpoint struct {
	Node      string `json:"node"`
	Interface string `json:"interface"`
	Address   string `json:"address,omitempty"`
}

// Route is a static route in one namespace: to Dst over one or more next
// hops (several is ECMP).
type Route struct {
	Dst      string    `json:"dst"`
	Nexthops []Nexthop `json:"nexthops"`
}

// Nexthop is one path of a route.
type Nexthop struct {
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
}

// Agent is where one switch's probe-agent listens.
type Agent struct {
	Control string `json:"control"`
	API     string `json:"api"`
}

// Controller is where probe-controller listens.
type Controller struct {
	API string `json:"api"`
}

// DefaultPortBase is the port base a lab gets when none is given: a
// multiple of 100 between 20000 and 32600 chosen from the lab name, so two
// labs on one host usually do not collide (Up checks the ports are free).
// It stays below Linux's ephemeral range (32768-60999 by default): a port
// there can be taken at any moment by an outgoing connection of any
// program on the host, which made labs fail to start at random.
func DefaultPortBase(lab string) int {
	h := uint32(2166136261)
	for i := 0; i < len(lab); i++ {
		h = (h ^ uint32(lab[i])) * 16777619
	}
	return 20000 + int(h%127)*100
}

// Build plans the lab of a containerlab file parsed by
// topology.ParseContainerlab: a namespace per node, a veth pair per link,
// addresses, routes that make every server subnet reachable from every
// server (ECMP over equal-cost paths), and listen ports for the agents and
// the controller.
func Build(g *topology.Graph, lab *topology.Lab, opts Options) (*Plan, error) {
	if err := checkName("lab name", lab.Name); err != nil {
		return nil, err
	}
	p := &Plan{Lab: lab.Name, Prefix: NetnsPrefix + lab.Name + "."}
	base := opts.PortBase
	if base == 0 {
		base = DefaultPortBase(lab.Name)
	}
	index := map[string]int{}
	switches := 0
	for _, ln := range lab.Nodes {
		if err := checkName("node name", ln.Name); err != nil {
			return nil, err
		}
		sys := g.Node(ln.Name)
		if sys == nil {
			return nil, fmt.Errorf("node %s: not in the topology's graph", ln.Name)
		}
		n := Node{
			Name: ln.Name, Netns: p.Prefix + ln.Name, Kind: ln.Kind,
			Role: sys.String("role"), SystemType: sys.String("system_type"), SystemID: sys.String("system_id"),
		}
		if n.SystemType != "server" {
			n.SystemType = "switch"
			n.Forwarding = true
			n.Agent = &Agent{
				Control: fmt.Sprintf("127.0.0.1:%d", base+2*switches),
				API:     fmt.Sprintf("127.0.0.1:%d", base+2*switches+1),
			}
			switches++
		}
		index[ln.Name] = len(p.Nodes)
		p.Nodes = append(p.Nodes, n)
	}
	p.Controller.API = fmt.Sprintf("127.0.0.1:%d", base+2*switches)
	if last := base + 2*switches; last > 65535 {
		return nil, fmt.Errorf("port base %d: the lab needs ports up to %d, past 65535", base, last)
	}

	fabric, server := 0, 0
	for i, l := range lab.Links {
		var eps []Endpoint
		for _, ep := range l.Endpoints {
			ni, ok := index[ep.Node]
			if !ok {
				return nil, fmt.Errorf("topology.links[%d]: node %s is not in topology.nodes", i, ep.Node)
			}
			names, err := topology.MapInterface(p.Nodes[ni].Kind, ep.Interface)
			if err != nil {
				return nil, fmt.Errorf("topology.links[%d]: endpoint %s:%s: %w", i, ep.Node, ep.Interface, err)
			}
			if len(names.Node) > 15 {
				return nil, fmt.Errorf("topology.links[%d]: endpoint %s:%s: Linux interface names have at most 15 characters", i, ep.Node, names.Node)
			}
			eps = append(eps, Endpoint{Node: ep.Node, Interface: names.Node})
		}
		if len(eps) == 1 {
			ep := eps[0]
			p.Nodes[index[ep.Node]].Interfaces = append(p.Nodes[index[ep.Node]].Interfaces, Interface{Name: ep.Interface, Type: "dummy"})
			p.Links = append(p.Links, Link{Role: "external", A: ep})
			p.Notes = append(p.Notes, fmt.Sprintf("topology.links[%d] (%s, %s:%s): its peer is outside the lab; built as a dummy interface", i, l.Type, ep.Node, ep.Interface))
			continue
		}
		a, b := eps[0], eps[1]
		ta, tb := p.Nodes[index[a.Node]].SystemType, p.Nodes[index[b.Node]].SystemType
		link := Link{A: a, B: b}
		switch {
		case ta == "switch" && tb == "server", ta == "server" && tb == "switch":
			if ta == "server" {
				link.A, link.B = b, a // the switch end first: it is the gateway
			}
			subnet, err := nthPrefix(ServerPool, 24, server)
			if err != nil {
				return nil, fmt.Errorf("topology.links[%d]: server subnets: %w", i, err)
			}
			server++
			link.Role, link.Subnet = "server", subnet.String()
			link.A.Address = netip.PrefixFrom(subnet.Addr().Next(), 24).String()
			link.B.Address = netip.PrefixFrom(subnet.Addr().Next().Next(), 24).String()
		default:
			subnet, err := nthPrefix(FabricPool, 31, fabric)
			if err != nil {
				return nil, fmt.Errorf("topology.links[%d]: fabric links: %w", i, err)
			}
			fabric++
			link.Role, link.Subnet = "fabric", subnet.String()
			link.A.Address = netip.PrefixFrom(subnet.Addr(), 31).String()
			link.B.Address = netip.PrefixFrom(subnet.Addr().Next(), 31).String()
		}
		for _, e := range [][2]Endpoint{{link.A, link.B}, {link.B, link.A}} {
			n := &p.Nodes[index[e[0].Node]]
			n.Interfaces = append(n.Interfaces, Interface{Name: e[0].Interface, Type: "veth", Address: e[0].Address, Peer: e[1].Node + ":" + e[1].Interface})
		}
		p.Links = append(p.Links, link)
	}
	addRoutes(p, index)
	return p, nil
}

// checkName refuses names that would make a namespace name ambiguous or
// invalid as a file name under /var/run/netns.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty (a lab needs a name: the top-level name key)", what)
	}
	if strings.ContainsAny(s, "./ \t\n") {
		return fmt.Errorf("%s %q: dots, slashes and spaces cannot appear in a lab's namespace names", what, s)
	}
	return nil
}

// nthPrefix returns the n-th prefix of length bits inside pool.
func nthPrefix(pool netip.Prefix, bits, n int) (netip.Prefix, error) {
	size := bits - pool.Bits()
	if n >= 1<<size {
		return netip.Prefix{}, fmt.Errorf("more than %d links: %s holds no more /%d", 1<<size, pool, bits)
	}
	a := pool.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits), nil
}

// addRoutes gives every server a default route through its first switch
// and every switch a route to every server subnet it is not attached to,
// over all its neighbours on a shortest path of switch-to-switch links
// (ECMP when there are several).
func addRoutes(p *Plan, index map[string]int) {
	type adj struct {
		peer         string
		dev, gateway string
	}
	neighbours := map[string][]adj{}
	for _, l := range p.Links {
		if l.Role != "fabric" {
			continue
		}
		na, nb := p.Nodes[index[l.A.Node]], p.Nodes[index[l.B.Node]]
		if na.SystemType != "switch" || nb.SystemType != "switch" {
			continue
		}
		neighbours[l.A.Node] = append(neighbours[l.A.Node], adj{peer: l.B.Node, dev: l.A.Interface, gateway: addrOnly(l.B.Address)})
		neighbours[l.B.Node] = append(neighbours[l.B.Node], adj{peer: l.A.Node, dev: l.B.Interface, gateway: addrOnly(l.A.Address)})
	}
	for _, l := range p.Links {
		if l.Role != "server" {
			continue
		}
		srv := &p.Nodes[index[l.B.Node]]
		if !hasDefault(srv.Routes) {
			srv.Routes = append(srv.Routes, Route{Dst: "0.0.0.0/0", Nexthops: []Nexthop{{Gateway: addrOnly(l.A.Address), Dev: l.B.Interface}}})
		}
		// Distances from the switch the subnet hangs off, breadth first.
		dist := map[string]int{l.A.Node: 0}
		queue := []string{l.A.Node}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, nb := range neighbours[cur] {
				if _, seen := dist[nb.peer]; !seen {
					dist[nb.peer] = dist[cur] + 1
					queue = append(queue, nb.peer)
				}
			}
		}
		for i := range p.Nodes {
			n := &p.Nodes[i]
			d, reached := dist[n.Name]
			if n.SystemType != "switch" || !reached || d == 0 {
				continue
			}
			var hops []Nexthop
			for _, nb := range neighbours[n.Name] {
				if dist[nb.peer] == d-1 {
					hops = append(hops, Nexthop{Gateway: nb.gateway, Dev: nb.dev})
				}
			}
			sort.Slice(hops, func(i, j int) bool { return hops[i].Dev < hops[j].Dev })
			n.Routes = append(n.Routes, Route{Dst: l.Subnet, Nexthops: hops})
		}
	}
}

func hasDefault(rs []Route) bool {
	for _, r := range rs {
		if r.Dst == "0.0.0.0/0" {
			return true
		}
	}
	return false
}

func addrOnly(cidr string) string {
	a, _, _ := strings.Cut(cidr, "/")
	return a
}

// Node returns the node called name, or nil.
func (p *Plan) Node(name string) *Node {
	for i := range p.Nodes {
		if p.Nodes[i].Name == name {
			return &p.Nodes[i]
		}
	}
	return nil
}

// Switches returns the nodes that run an agent.
func (p *Plan) Switches() []*Node {
	var out []*Node
	for i := range p.Nodes {
		if p.Nodes[i].Agent != nil {
			out = append(out, &p.Nodes[i])
		}
	}
	return out
}

// Address returns the address (without prefix length) of a server or one
// of its interfaces: "server1" is its first addressed interface,
// "server1:eth2" that interface.
func (p *Plan) Address(spec string) (netip.Addr, error) {
	name, iface, _ := strings.Cut(spec, ":")
	n := p.Node(name)
	if n == nil {
		return netip.Addr{}, fmt.Errorf("%s: no node %q in lab %s", spec, name, p.Lab)
	}
	for _, ifc := range n.Interfaces {
		if ifc.Address == "" || (iface != "" && ifc.Name != iface) {
			continue
		}
		return netip.MustParsePrefix(ifc.Address).Addr(), nil
	}
	if iface != "" {
		return netip.Addr{}, fmt.Errorf("%s: node %s has no addressed interface %q", spec, name, iface)
	}
	return netip.Addr{}, fmt.Errorf("%s: node %s has no addressed interface", spec, name)
}
