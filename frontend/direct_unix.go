//go:build unix

package frontend

import "syscall"

const directWrites = true

// writeNonblock writes to a non-blocking socket; again reports a full socket.
func writeNonblock(fd uintptr, b []byte) (n int, again bool, err error) {
	for {
		n, err = syscall.Write(int(fd), b)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return 0, true, nil
		}
		if n < 0 {
			n = 0
		}
		return n, false, err
	}
}
