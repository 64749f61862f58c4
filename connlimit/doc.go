// Package connlimit bounds what the agent's and the controller's listeners
// may cost in file descriptors: a listener that holds at most N
// connections (further clients wait in the kernel's accept backlog, which
// costs the process nothing), idle keep-alive connections that give way
// to a waiting client, and the descriptor budget that keeps room for the
// connections the daemon itself opens (stream senders, the gNMI
// subscription, state files).
//
// Without it, about 20,000 idle keep-alive REST connections exhausted the
// descriptor limit: accept failed with EMFILE and the perfmon sender could
// not reconnect until they were released.
package connlimit
