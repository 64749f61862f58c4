//go:build !linux

package main

import "log/slog"

// dropNamespaceCapability: network namespaces and capabilities are Linux's.
func dropNamespaceCapability(*slog.Logger) {}
