// Package freeport picks free TCP ports on the loopback interface.
package freeport

import (
	"fmt"
	"net"
	"strconv"
)

// Host is the only address convoy binds or lets integration processes bind.
const Host = "127.0.0.1"

// Pick returns a TCP port on Host that was free a moment ago, as chosen by the kernel. Another process
// may take it before the caller binds it: callers check and pick again when binding fails.
func Pick() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		return 0, fmt.Errorf("picking a free port on %s: %w", Host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Free reports whether port can be bound on Host right now.
func Free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
