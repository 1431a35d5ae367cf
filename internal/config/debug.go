package config

import (
	"fmt"
	"net"
	"net/netip"
)

// DebugAddr is the address server.debug_listen binds: the same, with an
// empty host made 127.0.0.1. Profiles and traces expose the process's
// internals (and a CPU profile costs CPU while it runs), so only loopback
// hosts are accepted: "localhost", 127.0.0.0/8 and ::1.
func DebugAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("must be host:port, e.g. 127.0.0.1:6060 (%v)", err)
	}
	switch host {
	case "":
		host = "127.0.0.1"
	case "localhost":
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return "", fmt.Errorf("must be a loopback address (127.0.0.1, ::1, localhost; got %q): profiles reveal the process's internals", host)
		}
	}
	return net.JoinHostPort(host, port), nil
}
