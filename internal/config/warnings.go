package config

import "net"

// Warnings are what is allowed but probably unwise in c, one sentence
// each: `bsc serve` logs them at start and `bsc check` prints them.
func (c Config) Warnings() []string {
	var out []string
	if c.APIToken == "" && !loopback(c.Listen) {
		out = append(out, "listen "+c.Listen+" is reachable from other hosts and no api-token is set: "+
			"anyone who can reach it can attach phones, crash processes and change the pool; set api-token or listen on 127.0.0.1")
	}
	return out
}

// loopback tells whether addr (host:port, validated) binds only to the
// loopback interface; an empty host binds to every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
