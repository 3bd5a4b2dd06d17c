package testproc

import (
	"net"
	"strconv"
)

// FreePort asks the kernel for a free loopback TCP port. The port is free
// when FreePort returns; another process may take it before the caller
// listens on it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is a free loopback address, 127.0.0.1:port (see FreePort).
func FreeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}
