package config

import (
	"net"
	"strings"
)

// OpenMode reports whether the gateway may admit callers without a key while
// no client key exists, and why, for the start log. Only two things allow
// it: a listener that no other machine can reach, decided from the
// configured address (not from where a test happens to connect), or the
// explicit server.open_without_keys. An empty host (":4000") and wildcard
// addresses listen on every interface, so they are not loopback.
func (c *Config) OpenMode() (allowed bool, reason string) {
	switch {
	case c.Server.OpenWithoutKeys:
		return true, "server.open_without_keys is true"
	case LoopbackListen(c.Listen):
		return true, "the listener " + c.Listen + " is loopback"
	}
	return false, "the listener " + c.Listen + " is not loopback and server.open_without_keys is false"
}

// LoopbackListen reports whether a host:port listen address binds only
// loopback interfaces: a loopback IP (127.0.0.0/8, ::1) or "localhost".
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
