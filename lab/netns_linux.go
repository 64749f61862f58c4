package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where named namespaces live (ip netns and vishvananda/netns
// both use it).
const netnsDir = "/var/run/netns"

// CheckPrivileges says why the lab cannot be built when the process lacks
// CAP_NET_ADMIN (namespaces' interfaces, addresses, routes) or
// CAP_SYS_ADMIN (creating and entering named namespaces: a bind mount
// under /var/run/netns and setns).
func CheckPrivileges() error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return fmt.Errorf("/proc/self/status: CapEff %q: %v", v, err)
		}
		const netAdmin, sysAdmin = 12, 21
		if caps&(1<<netAdmin) != 0 && caps&(1<<sysAdmin) != 0 {
			return nil
		}
	}
	return errors.New("probectl lab needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN): it creates network namespaces (a bind mount under /var/run/netns, setns), veth pairs, addresses and routes in them; run it with sudo")
}

// inNamespace runs fn on a fresh OS thread switched into ns and back. A
// thread that cannot switch back is left locked, so the runtime discards
// it instead of running other goroutines in the wrong namespace.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("returning to the root namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// createNamespace makes a named namespace (the thread that makes it is
// returned to the original namespace) and brings its loopback up.
func createNamespace(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if err != nil {
			if serr := netns.Set(orig); serr == nil {
				runtime.UnlockOSThread()
			}
			errc <- fmt.Errorf("namespace %s: %w", name, err)
			return
		}
		h.Close()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("returning to the root namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// listNamespaces returns the named namespaces starting with prefix.
func listNamespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// namespaceExists tells whether a named namespace is present.
func namespaceExists(name string) bool {
	_, err := os.Stat(netnsDir + "/" + name)
	return err == nil
}

// deleteNamespace removes a named namespace; its interfaces go with it (a
// veth pair is destroyed when either end's namespace is). A missing one
// is not an error.
func deleteNamespace(name string) error {
	if !namespaceExists(name) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

// nsHandles opens every node's namespace.
type nsHandles map[string]netns.NsHandle

func (h nsHandles) close() {
	for _, v := range h {
		v.Close()
	}
}

// build makes the plan's interfaces, addresses and routes in namespaces
// that exist already.
func build(p *Plan) error {
	hs := nsHandles{}
	defer hs.close()
	for _, n := range p.Nodes {
		h, err := netns.GetFromName(n.Netns)
		if err != nil {
			return fmt.Errorf("namespace %s: %w", n.Netns, err)
		}
		hs[n.Name] = h
	}
	// Sysctls first: rp_filter off so that ECMP's asymmetric return paths
	// are not dropped, forwarding on switches, and an L4 hash so that
	// flows between the same two servers spread over the spines.
	for _, n := range p.Nodes {
		settings := [][2]string{{"ipv4/conf/all/rp_filter", "0"}, {"ipv4/conf/default/rp_filter", "0"}}
		if n.Forwarding {
			settings = append(settings, [2]string{"ipv4/ip_forward", "1"}, [2]string{"ipv4/fib_multipath_hash_policy", "1"})
		}
		if err := inNamespace(hs[n.Name], func() error {
			for _, s := range settings {
				if err := os.WriteFile("/proc/sys/net/"+s[0], []byte(s[1]), 0o644); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("node %s: sysctl: %w", n.Name, err)
		}
	}
	for _, l := range p.Links {
		if l.Role == "external" {
			continue // a dummy, made below with the node's interfaces
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: l.A.Interface, Namespace: netlink.NsFd(int(hs[l.A.Node]))},
			PeerName:      l.B.Interface,
			PeerNamespace: netlink.NsFd(int(hs[l.B.Node])),
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("veth %s:%s <-> %s:%s: %w", l.A.Node, l.A.Interface, l.B.Node, l.B.Interface, err)
		}
	}
	for _, n := range p.Nodes {
		if err := configureNode(hs[n.Name], n); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}

// configureNode brings up a node's loopback and interfaces, adds their
// addresses, then its routes.
func configureNode(h netns.NsHandle, n Node) error {
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return err
	}
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := nh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	index := map[string]int{}
	for _, ifc := range n.Interfaces {
		if ifc.Type == "dummy" {
			if err := nh.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: ifc.Name}}); err != nil {
				return fmt.Errorf("dummy %s: %w", ifc.Name, err)
			}
		}
		link, err := nh.LinkByName(ifc.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", ifc.Name, err)
		}
		index[ifc.Name] = link.Attrs().Index
		if ifc.Address != "" {
			addr, err := netlink.ParseAddr(ifc.Address)
			if err != nil {
				return fmt.Errorf("%s: address %s: %w", ifc.Name, ifc.Address, err)
			}
			if err := nh.AddrAdd(link, addr); err != nil {
				return fmt.Errorf("%s: address %s: %w", ifc.Name, ifc.Address, err)
			}
		}
		if err := nh.LinkSetUp(link); err != nil {
			return fmt.Errorf("%s up: %w", ifc.Name, err)
		}
	}
	for _, r := range n.Routes {
		pfx, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			return fmt.Errorf("route %s: %w", r.Dst, err)
		}
		route := &netlink.Route{Dst: &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), 32)}}
		if len(r.Nexthops) == 1 {
			route.Gw, route.LinkIndex = net.ParseIP(r.Nexthops[0].Gateway), index[r.Nexthops[0].Dev]
		} else {
			for _, nhop := range r.Nexthops {
				route.MultiPath = append(route.MultiPath, &netlink.NexthopInfo{LinkIndex: index[nhop.Dev], Gw: net.ParseIP(nhop.Gateway)})
			}
		}
		if err := nh.RouteAdd(route); err != nil {
			return fmt.Errorf("route %s: %w", r.Dst, err)
		}
	}
	return nil
}

// NamespaceLinks lists the interfaces (other than lo) and their IPv4
// addresses inside a named namespace: what status and the tests check.
func NamespaceLinks(name string) (map[string][]string, error) {
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	links, err := nh.LinkList()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, l := range links {
		if l.Attrs().Name == "lo" {
			continue
		}
		addrs, err := nh.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, err
		}
		out[l.Attrs().Name] = []string{}
		for _, a := range addrs {
			out[l.Attrs().Name] = append(out[l.Attrs().Name], a.IPNet.String())
		}
	}
	return out, nil
}
