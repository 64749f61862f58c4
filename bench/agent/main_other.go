//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench-agent: Linux only (network namespaces, netlink, cgroups)")
	os.Exit(1)
}
