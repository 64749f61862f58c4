// Package query parses and runs Apstra graph queries (the "QE" language
// probes carry in graph_query) against a topology.Graph.
//
// Parse reads the subset real probes use: node(type?, name=..., prop=value
// | is_in([...]) | not_in([...]) | ne(x) | eq(x) | not_none() | is_none() |
// gt/ge/lt/le(n)), out(rel) and in_(rel) steps, match(...) joins in which a
// repeated name (node(name='x')) is the same node, nested match,
// optional(...) left joins, ensure_different, distinct (all three
// spellings), having(..., at_least=, at_most=), select and
// where(lambda a, b: body), whose body is evaluated by the project's safe
// expression evaluator (probe/expr) with the parameters bound to nodes.
// Errors carry the byte position and say what was expected.
//
// Match returns rows of bound variables, each what Apstra calls a
// query_result entry. Node types a topology cannot describe (virtual
// networks, security zones) match nothing, and the result says so once.
package query
