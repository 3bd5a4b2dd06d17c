//go:build !linux

// Command localcluster runs pods in Linux network and mount namespaces; it
// works on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "localcluster runs on Linux only (it uses network and mount namespaces)")
	os.Exit(1)
}
