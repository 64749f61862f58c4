package topology

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options are the caller's choices for building a graph from a lab.
type Options struct {
	// Roles sets the role of nodes by name; it wins over labels, group and
	// name.
	Roles map[string]string
	// DefaultSpeed is the speed of a link that sets none in its labels or
	// vars; empty means DefaultLinkSpeed.
	DefaultSpeed string
}

// DefaultLinkSpeed is the speed of links that set none, so that queries
// filtering on speed=not_none() (the seed's) match a lab.
const DefaultLinkSpeed = "10G"

// Position is where something is in a file; Line and Col count from 1 (0
// when unknown).
type Position struct {
	File string
	Line int
	Col  int
}

func (p Position) String() string {
	file := p.File
	if file == "" {
		file = "<input>"
	}
	if p.Line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col)
}

// Error is a problem in a topology file: where, the key path, and what.
type Error struct {
	Pos Position
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Key, e.Msg)
}

// Warning is a problem that does not stop the load (a deprecated or
// unknown key); its text has the same form as an Error's.
type Warning = Error

// Lab is a containerlab topology after inheritance: what the graph is built
// from, kept for callers that want the lab's own view.
type Lab struct {
	Name  string
	Nodes []LabNode
	Links []LabLink
}

// LabNode is one node with its kind, group and labels resolved through
// defaults, kinds and groups.
type LabNode struct {
	Name     string
	Kind     string
	Image    string
	Group    string
	Type     string
	Hostname string
	Labels   map[string]string
	Pos      Position
}

// LabEndpoint is one end of a link.
type LabEndpoint struct {
	Node      string
	Interface string
	Pos       Position
}

// LabLink is one link: two endpoints for a veth, one for host, mgmt-net,
// macvlan, dummy and vxlan links (an interface without a peer in the lab).
type LabLink struct {
	Type      string
	Endpoints []LabEndpoint
	Labels    map[string]string
	Vars      map[string]string
	Pos       Position
}

// nodeConfig is one node-config mapping (defaults, a kind, a group or a
// node) before inheritance. Empty strings are unset.
type nodeConfig struct {
	kind, image, group, typ, hostname string
	labels                            map[string]string
	pos                               Position
}

// nodeKeys are the node-config keys of containerlab's schema; the ones the
// graph does not need are accepted and ignored.
var nodeKeys = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`aliases auto-remove binds cap-add certificate cgroup-parent
		cgroupns-mode cmd components config cpu cpu-set credentials devices dns enforce-startup-config
		entrypoint env env-files exec extras group healthcheck hostname image image-pull-policy kind
		labels license link-apply-mode memory mgmt-ipv4 mgmt-ipv6 network-mode pid-mode ports
		privileged restart-policy runtime security-opts shm-size stages startup-config startup-delay
		suppress-startup-config sysctls tmpfs type user volumes position`) {
		nodeKeys[k] = true
	}
}

// deprecatedNodeKeys are old spellings seen in labs in the wild, with what
// replaced them.
var deprecatedNodeKeys = map[string]string{
	"mgmt_ipv4": "mgmt-ipv4", "mgmt_ipv6": "mgmt-ipv6",
	"username": "credentials", "password": "credentials",
	"publish": "ports (publish was removed)", "network_mode": "network-mode",
	"startup_config": "startup-config",
}

var topLevelKeys = map[string]bool{"name": true, "prefix": true, "mgmt": true, "topology": true, "settings": true, "debug": true}

var nodeNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-._|]*$`)

// linkTypes are containerlab's link types; the single-endpoint ones give an
// interface without a peer.
var linkTypes = map[string]bool{"veth": true, "veth-stitch": true, "mgmt-net": true, "macvlan": true,
	"host": true, "vxlan": true, "vxlan-stitch": true, "dummy": true, "bridge": true}

// specialBriefNodes turn a brief link into a single-endpoint link of their
// type ("host:veth0").
var specialBriefNodes = map[string]string{"host": "host", "mgmt-net": "mgmt-net", "macvlan": "macvlan"}

type clabParser struct {
	file     string
	warnings []Warning
}

func (p *clabParser) pos(n *yaml.Node) Position {
	if n == nil {
		return Position{File: p.file}
	}
	return Position{File: p.file, Line: n.Line, Col: n.Column}
}

func (p *clabParser) errf(n *yaml.Node, key, format string, args ...any) *Error {
	return &Error{Pos: p.pos(n), Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (p *clabParser) warnf(n *yaml.Node, key, format string, args ...any) {
	p.warnings = append(p.warnings, Warning{Pos: p.pos(n), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// mapping iterates over a mapping node's key/value pairs; a null node is an
// empty mapping, anything else an error.
func (p *clabParser) mapping(n *yaml.Node, key string, fn func(k, v *yaml.Node) error) error {
	if n == nil || isNullNode(n) {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return p.errf(n, key, "expected a mapping, found %s", describeNode(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			if err := p.mapping(v, key, fn); err != nil {
				return err
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return p.errf(k, key, "expected a string key, found %s", describeNode(k))
		}
		if seen[k.Value] {
			return p.errf(k, joinKey(key, k.Value), "duplicate key")
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func isNullNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNullNode(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

func (p *clabParser) scalar(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || isNullNode(n) {
		return "", p.errf(n, key, "expected a string, found %s", describeNode(n))
	}
	return n.Value, nil
}

// stringMap reads labels or vars: scalar values only (containerlab allows
// strings and numbers).
func (p *clabParser) stringMap(n *yaml.Node, key string) (map[string]string, error) {
	out := map[string]string{}
	err := p.mapping(n, key, func(k, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return p.errf(v, joinKey(key, k.Value), "expected a string or number, found %s", describeNode(v))
		}
		if !isNullNode(v) {
			out[k.Value] = v.Value
		}
		return nil
	})
	return out, err
}

func (p *clabParser) nodeConfig(n *yaml.Node, key string) (nodeConfig, error) {
	c := nodeConfig{pos: p.pos(n)}
	err := p.mapping(n, key, func(k, v *yaml.Node) error {
		fk := joinKey(key, k.Value)
		var err error
		switch k.Value {
		case "kind":
			c.kind, err = p.scalar(v, fk)
		case "image":
			c.image, err = p.scalar(v, fk)
		case "group":
			c.group, err = p.scalar(v, fk)
		case "type":
			c.typ, err = p.scalar(v, fk)
		case "hostname":
			c.hostname, err = p.scalar(v, fk)
		case "labels":
			c.labels, err = p.stringMap(v, fk)
		default:
			if repl, old := deprecatedNodeKeys[k.Value]; old {
				p.warnf(k, fk, "deprecated key, now %s; ignored", repl)
			} else if !nodeKeys[k.Value] {
				p.warnf(k, fk, "unknown node key (containerlab refuses it); ignored")
			}
		}
		return err
	})
	return c, err
}

// ParseContainerlab reads a containerlab topology file (.clab.yml) and
// builds its graph. file names the input in messages. It is lenient where
// old labs differ from today's schema (deprecated and unknown keys are
// warnings) and strict where the graph would be wrong (a link to an
// undefined node, an endpoint used twice, a malformed endpoint are errors
// naming file, line and key). Go templates and ${VAR} substitution are not
// rendered: give the rendered file.
func ParseContainerlab(data []byte, file string, opts Options) (*Graph, *Lab, []Warning, error) {
	lab, warnings, err := parseLab(data, file)
	if err != nil {
		return nil, nil, warnings, err
	}
	g, err := lab.Graph(opts)
	if err != nil {
		return nil, lab, warnings, err
	}
	return g, lab, warnings, nil
}

func parseLab(data []byte, file string) (*Lab, []Warning, error) {
	p := &clabParser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, &Error{Pos: Position{File: file}, Msg: "not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil, &Error{Pos: Position{File: file}, Msg: "empty topology file"}
	}
	root := doc.Content[0]
	lab := &Lab{}
	var topo *yaml.Node
	err := p.mapping(root, "", func(k, v *yaml.Node) error {
		switch k.Value {
		case "name":
			s, err := p.scalar(v, "name")
			lab.Name = s
			return err
		case "topology":
			topo = v
		default:
			if !topLevelKeys[k.Value] {
				p.warnf(k, k.Value, "unknown top-level key (containerlab refuses it); ignored")
			}
		}
		return nil
	})
	if err != nil {
		return nil, p.warnings, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.warnings, p.errf(root, "", "expected a mapping with name and topology")
	}
	if lab.Name == "" {
		p.warnf(root, "name", "missing (containerlab requires it)")
	}
	if topo == nil || isNullNode(topo) {
		return nil, p.warnings, p.errf(root, "topology", "required")
	}
	if err := p.topology(topo, lab); err != nil {
		return nil, p.warnings, err
	}
	return lab, p.warnings, nil
}

func (p *clabParser) topology(topo *yaml.Node, lab *Lab) error {
	var defaults nodeConfig
	kinds, groups := map[string]nodeConfig{}, map[string]nodeConfig{}
	type rawNode struct {
		name string
		key  *yaml.Node
		cfg  nodeConfig
	}
	var nodes []rawNode
	var links *yaml.Node
	err := p.mapping(topo, "topology", func(k, v *yaml.Node) error {
		key := "topology." + k.Value
		var err error
		switch k.Value {
		case "defaults":
			defaults, err = p.nodeConfig(v, key)
		case "kinds":
			err = p.mapping(v, key, func(kk, kv *yaml.Node) error {
				c, err := p.nodeConfig(kv, joinKey(key, kk.Value))
				kinds[CanonicalKind(kk.Value)] = c
				return err
			})
		case "groups":
			err = p.mapping(v, key, func(gk, gv *yaml.Node) error {
				c, err := p.nodeConfig(gv, joinKey(key, gk.Value))
				groups[gk.Value] = c
				return err
			})
		case "nodes":
			err = p.mapping(v, key, func(nk, nv *yaml.Node) error {
				if !nodeNamePattern.MatchString(nk.Value) {
					return p.errf(nk, joinKey(key, nk.Value), "invalid node name (want letters, digits and - . _ |, starting with a letter or digit)")
				}
				c, err := p.nodeConfig(nv, joinKey(key, nk.Value))
				c.pos = p.pos(nk)
				nodes = append(nodes, rawNode{name: nk.Value, key: nk, cfg: c})
				return err
			})
		case "links":
			links = v
		default:
			p.warnf(k, key, "unknown key (known: defaults, kinds, groups, nodes, links); ignored")
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return p.errf(topo, "topology.nodes", "no nodes")
	}
	byName := map[string]bool{}
	for _, rn := range nodes {
		c := rn.cfg
		key := "topology.nodes." + rn.name
		group := c.group
		if group == "" {
			group = defaults.group
		}
		var gc nodeConfig
		if group != "" {
			if g, ok := groups[group]; ok {
				gc = g
			}
		}
		kind := firstSet(c.kind, gc.kind, defaults.kind)
		if kind == "" {
			return p.errf(rn.key, key+".kind", "no kind (set it on the node, its group or topology.defaults)")
		}
		kc := kinds[CanonicalKind(kind)]
		labels := map[string]string{}
		for _, l := range []map[string]string{defaults.labels, kc.labels, gc.labels, c.labels} {
			maps.Copy(labels, l)
		}
		lab.Nodes = append(lab.Nodes, LabNode{
			Name:     rn.name,
			Kind:     CanonicalKind(kind),
			Image:    firstSet(c.image, gc.image, kc.image, defaults.image),
			Group:    group,
			Type:     firstSet(c.typ, gc.typ, kc.typ, defaults.typ),
			Hostname: firstSet(c.hostname, gc.hostname, kc.hostname, defaults.hostname),
			Labels:   labels,
			Pos:      c.pos,
		})
		byName[rn.name] = true
	}
	if links == nil || isNullNode(links) {
		return nil
	}
	if links.Kind != yaml.SequenceNode {
		return p.errf(links, "topology.links", "expected a list, found %s", describeNode(links))
	}
	used := map[[2]string]Position{}
	for i, ln := range links.Content {
		key := fmt.Sprintf("topology.links[%d]", i)
		l, err := p.link(ln, key)
		if err != nil {
			return err
		}
		for _, ep := range l.Endpoints {
			if !byName[ep.Node] {
				return &Error{Pos: ep.Pos, Key: key, Msg: fmt.Sprintf("endpoint %s:%s: node %q is not defined in topology.nodes", ep.Node, ep.Interface, ep.Node)}
			}
			k := [2]string{ep.Node, ep.Interface}
			if prev, dup := used[k]; dup {
				return &Error{Pos: ep.Pos, Key: key, Msg: fmt.Sprintf("endpoint %s:%s is already used by the link at %s", ep.Node, ep.Interface, prev)}
			}
			used[k] = ep.Pos
		}
		lab.Links = append(lab.Links, l)
	}
	return nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// link reads one link in the brief form (endpoints: ["a:e1", "b:e1"]) or
// the extended form (type: veth, endpoints: [{node, interface}, ...];
// type: host and the like, endpoint: {node, interface}).
func (p *clabParser) link(n *yaml.Node, key string) (LabLink, error) {
	l := LabLink{Pos: p.pos(n)}
	var endpoints, endpoint *yaml.Node
	err := p.mapping(n, key, func(k, v *yaml.Node) error {
		fk := joinKey(key, k.Value)
		var err error
		switch k.Value {
		case "endpoints":
			endpoints = v
		case "endpoint":
			endpoint = v
		case "type":
			l.Type, err = p.scalar(v, fk)
			if err == nil && !linkTypes[l.Type] {
				err = p.errf(v, fk, "unknown link type %q (known: veth, host, mgmt-net, macvlan, dummy, vxlan, vxlan-stitch, veth-stitch)", l.Type)
			}
		case "labels":
			l.Labels, err = p.stringMap(v, fk)
		case "vars":
			l.Vars, err = p.flatVars(v, fk)
		case "mtu", "ipv4", "ipv6", "host-interface", "mode", "remote", "vni", "udp-port", "parent-interface", "extras", "mac":
		default:
			p.warnf(k, fk, "unknown link key; ignored")
		}
		return err
	})
	if err != nil {
		return l, err
	}
	if n.Kind != yaml.MappingNode {
		return l, p.errf(n, key, "expected a link mapping, found %s", describeNode(n))
	}
	switch {
	case l.Type == "" && endpoints != nil:
		eps, err := p.briefEndpoints(endpoints, key+".endpoints")
		if err != nil {
			return l, err
		}
		l.Type = "veth"
		var kept []LabEndpoint
		for _, ep := range eps {
			if t, special := specialBriefNodes[ep.Node]; special {
				l.Type = t
				continue
			}
			kept = append(kept, ep)
		}
		if len(kept) == 0 {
			return l, p.errf(endpoints, key+".endpoints", "no endpoint on a lab node")
		}
		l.Endpoints = kept
	case l.Type == "":
		return l, p.errf(n, key, "neither endpoints (brief or veth form) nor type with endpoint")
	case endpoints != nil:
		if endpoints.Kind != yaml.SequenceNode || len(endpoints.Content) != 2 {
			return l, p.errf(endpoints, key+".endpoints", "expected a list of two endpoints")
		}
		for i, en := range endpoints.Content {
			ep, err := p.extendedEndpoint(en, fmt.Sprintf("%s.endpoints[%d]", key, i))
			if err != nil {
				return l, err
			}
			l.Endpoints = append(l.Endpoints, ep)
		}
	case endpoint != nil:
		ep, err := p.extendedEndpoint(endpoint, key+".endpoint")
		if err != nil {
			return l, err
		}
		l.Endpoints = []LabEndpoint{ep}
	default:
		return l, p.errf(n, key, "link of type %s has no endpoint", l.Type)
	}
	return l, nil
}

func (p *clabParser) briefEndpoints(n *yaml.Node, key string) ([]LabEndpoint, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		return nil, p.errf(n, key, "expected a list of two \"node:interface\" endpoints")
	}
	var out []LabEndpoint
	for i, en := range n.Content {
		ek := fmt.Sprintf("%s[%d]", key, i)
		if en.Kind == yaml.MappingNode {
			return nil, p.errf(en, ek, "an endpoint object needs the extended form (type: veth)")
		}
		s, err := p.scalar(en, ek)
		if err != nil {
			return nil, err
		}
		node, iface, ok := strings.Cut(s, ":")
		if !ok || node == "" || iface == "" || strings.ContainsAny(s, " \t") {
			return nil, p.errf(en, ek, "endpoint %q: want \"node:interface\"", s)
		}
		out = append(out, LabEndpoint{Node: node, Interface: iface, Pos: p.pos(en)})
	}
	return out, nil
}

func (p *clabParser) extendedEndpoint(n *yaml.Node, key string) (LabEndpoint, error) {
	ep := LabEndpoint{Pos: p.pos(n)}
	err := p.mapping(n, key, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "node":
			ep.Node, err = p.scalar(v, joinKey(key, k.Value))
		case "interface":
			ep.Interface, err = p.scalar(v, joinKey(key, k.Value))
		case "mac", "ipv4", "ipv6", "vars":
		default:
			p.warnf(k, joinKey(key, k.Value), "unknown endpoint key; ignored")
		}
		return err
	})
	if err != nil {
		return ep, err
	}
	if n.Kind != yaml.MappingNode {
		return ep, p.errf(n, key, "expected {node, interface}, found %s", describeNode(n))
	}
	if ep.Node == "" || ep.Interface == "" {
		return ep, p.errf(n, key, "needs node and interface")
	}
	return ep, nil
}

// flatVars reads a link's vars, keeping the scalar ones (speed may be
// there); nested vars are for templates and ignored.
func (p *clabParser) flatVars(n *yaml.Node, key string) (map[string]string, error) {
	out := map[string]string{}
	err := p.mapping(n, key, func(k, v *yaml.Node) error {
		if v.Kind == yaml.ScalarNode && !isNullNode(v) {
			out[k.Value] = v.Value
		}
		return nil
	})
	return out, err
}

// Graph builds the lab's graph: a system per node, an interface per link
// endpoint, a link node per two-endpoint link, racks and redundancy groups
// from labels. See docs/topology.md for the properties and defaults.
func (lab *Lab) Graph(opts Options) (*Graph, error) {
	g := New()
	speed := opts.DefaultSpeed
	if speed == "" {
		speed = DefaultLinkSpeed
	}
	systems := map[string]*Node{}
	rgOf := map[string]string{}
	for _, ln := range lab.Nodes {
		role, source := DeriveRole(ln.Name, opts.Roles, ln.Labels, ln.Group)
		hostname := firstSet(ln.Labels["hostname"], ln.Hostname, ln.Name)
		systemType := "switch"
		if role == RoleL2Server || role == RoleL3Server || (role == RoleGeneric && (source != RoleFromDefault || IsHostKind(ln.Kind))) {
			systemType = "server"
		}
		props := map[string]any{
			"label":       firstSet(ln.Labels["label"], ln.Name),
			"hostname":    hostname,
			"system_id":   firstSet(ln.Labels["system_id"], hostname),
			"role":        role,
			"role_source": string(source),
			"system_type": firstSet(ln.Labels["system_type"], systemType),
			"deploy_mode": firstSet(ln.Labels["deploy_mode"], "deploy"),
			"kind":        ln.Kind,
		}
		if ln.Image != "" {
			props["image"] = ln.Image
		}
		if ln.Group != "" {
			props["group_label"] = ln.Group
		}
		if len(ln.Labels) > 0 {
			lm := make(map[string]any, len(ln.Labels))
			for k, v := range ln.Labels {
				lm[k] = v
			}
			props["labels"] = lm
		}
		if t := ln.Labels["tags"]; t != "" {
			var tags []any
			for _, s := range strings.Split(t, ",") {
				if s = strings.TrimSpace(s); s != "" {
					tags = append(tags, s)
				}
			}
			props["tags"] = tags
		}
		sys, err := g.AddNode(ln.Name, TypeSystem, props)
		if err != nil {
			return nil, &Error{Pos: ln.Pos, Key: "topology.nodes." + ln.Name, Msg: err.Error()}
		}
		systems[ln.Name] = sys
		if rack := ln.Labels["rack"]; rack != "" {
			rn := g.Node("rack:" + rack)
			if rn == nil {
				rn, _ = g.AddNode("rack:"+rack, TypeRack, map[string]any{"label": rack})
			}
			sys.Props["rack_id"] = rn.ID
			if _, err := g.AddRelationship("", RelPartOfRack, sys, rn, nil); err != nil {
				return nil, err
			}
		}
		if rg := ln.Labels["redundancy_group"]; rg != "" {
			id := "redundancy_group:" + rg
			rn := g.Node(id)
			if rn == nil {
				rn, _ = g.AddNode(id, TypeRedundancyGroup, map[string]any{"label": rg, "rg_type": firstSet(ln.Labels["redundancy_group_type"], "mlag")})
			}
			sys.Props["redundancy_group_id"] = id
			rgOf[ln.Name] = id
			if _, err := g.AddRelationship("", RelComposedOfSystems, rn, sys, nil); err != nil {
				return nil, err
			}
		}
	}
	kindOf := func(node string) string { return systems[node].String("kind") }
	for i, l := range lab.Links {
		key := fmt.Sprintf("topology.links[%d]", i)
		var ifaces []*Node
		for _, ep := range l.Endpoints {
			names, err := MapInterface(kindOf(ep.Node), ep.Interface)
			if err != nil {
				return nil, &Error{Pos: ep.Pos, Key: key, Msg: fmt.Sprintf("endpoint %s:%s: %v", ep.Node, ep.Interface, err)}
			}
			id := ep.Node + ":" + names.Node
			props := map[string]any{
				"if_name":         names.NOS,
				"node_if_name":    names.Node,
				"clab_if_name":    names.Topology,
				"if_type":         "ethernet",
				"operation_state": "up",
			}
			if d := l.Labels["description"]; d != "" {
				props["description"] = d
			}
			ifn, err := g.AddNode(id, TypeInterface, props)
			if err != nil {
				return nil, &Error{Pos: ep.Pos, Key: key, Msg: fmt.Sprintf("endpoint %s:%s is the same interface as another endpoint (%s)", ep.Node, ep.Interface, names.Node)}
			}
			if _, err := g.AddRelationship("", RelHostedInterfaces, systems[ep.Node], ifn, nil); err != nil {
				return nil, err
			}
			ifaces = append(ifaces, ifn)
		}
		if len(ifaces) != 2 {
			continue // host, mgmt-net, macvlan, dummy: an interface without a peer in the lab
		}
		a, b := l.Endpoints[0], l.Endpoints[1]
		peers := rgOf[a.Node] != "" && rgOf[a.Node] == rgOf[b.Node]
		props := map[string]any{
			"link_type": "ethernet",
			"role":      firstSet(l.Labels["role"], LinkRole(systems[a.Node].String("role"), systems[b.Node].String("role"), peers)),
			"speed":     normalizeSpeed(firstSet(l.Labels["speed"], l.Vars["speed"], speed)),
			"label":     fmt.Sprintf("%s:%s<->%s:%s", a.Node, a.Interface, b.Node, b.Interface),
		}
		ln, err := g.AddNode(ifaces[0].ID+"<->"+ifaces[1].ID, TypeLink, props)
		if err != nil {
			return nil, &Error{Pos: l.Pos, Key: key, Msg: err.Error()}
		}
		for _, ifn := range ifaces {
			if _, err := g.AddRelationship("", RelLink, ifn, ln, nil); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// normalizeSpeed writes a bare number of Mbit/s ("10000") the way Apstra
// spells speeds ("10G"); anything else is kept as written.
func normalizeSpeed(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return s
	}
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "G"
	}
	return strconv.Itoa(n) + "M"
}
