package controlplane

import (
	"encoding/base64"
	"net"
)

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
