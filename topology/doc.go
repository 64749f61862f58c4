// Package topology is the fabric as an Apstra-like graph, so that the graph
// queries real probes carry ("node('system', name='sys').out('hosted_interfaces')
// ...") can be resolved against a lab or a data centre that has no Apstra.
//
// A Graph holds typed nodes with an id and properties, and typed, directed
// relationships between them, with the node types, property names and
// relationship directions of Apstra's datacenter reference design:
// system -hosted_interfaces-> interface -link-> link (both ends of a cable
// point at the one link node), system -part_of_rack-> rack,
// redundancy_group -composed_of_systems-> system, interface -composed_of->
// interface.
//
// Two loaders build a Graph: ParseContainerlab reads a containerlab topology
// file (the form labs are written in; see docs/topology.md for the
// inheritance, role and naming rules), ParseGraphJSON reads a plain graph
// document ({"nodes": {...}, "relationships": {...}}, the shape of an Apstra
// blueprint export) that other tools can write. Both are pure functions over
// bytes; LoadFile is the only file I/O. Interface names are kept in the
// three forms a lab has (the topology file's, the one inside the node, and
// the one the device's own telemetry reports) so that items resolved from a
// query match what each agent's collector reports.
//
// The package imports no network code: it is shared by the controller, the
// offline probectl tools and tests.
package topology
