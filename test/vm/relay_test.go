//go:build vm

package vm

import (
	"io"
	"net"
	"os"
)

// relay copies one guest connection (stdin/stdout, as qemu's guestfwd cmd: hands it over)
// to and from addr on the host's loopback. A guestfwd to a tcp: chardev would connect once,
// at qemu's start, and carry a single connection; cmd: gets one process per connection.
func relay(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 1
	}
	go func() {
		_, _ = io.Copy(c, os.Stdin)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	// Done when the server side closes (after the guest closed, or on its own).
	_, _ = io.Copy(os.Stdout, c)
	return 0
}
