//go:build !unix

package frontend

import "errors"

// Direct socket writes are only implemented for Unix; elsewhere every stream
// uses the goroutine-per-stream path.
const directWrites = false

func writeNonblock(fd uintptr, b []byte) (int, bool, error) {
	return 0, false, errors.New("direct writes unsupported")
}
