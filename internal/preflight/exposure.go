package preflight

import (
	"net"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
)

// exposure warns when the joiner would take a datadir from anyone: no
// encryption (encrypt=0), a listener that is not loopback-only, and
// [sst] donor-auth=off, so the first peer to reach the SST port, not
// necessarily the donor, feeds the joiner.
func (c *checker) exposure(cfg *config.Config) {
	c.r.Checks++
	if cfg.TLSSetup.Encrypt != 0 || cfg.DonorAuth != "off" {
		return
	}
	host := c.listenHost()
	if isLoopback(host) {
		return
	}
	where := "on all interfaces (no wsrep_sst_receive_address or wsrep_node_address: mysqld passes an interface address, and a joiner given an address that is not local listens on all)"
	if host != "" {
		where = "on " + host + ", not a loopback address"
	}
	c.warning("encrypt=0, donor-auth=off (from %s) and the joiner listens %s: anyone who reaches the SST port first can feed the joiner a datadir",
		"set [sst] donor-auth=auto (the default) or required, or use TLS with a CA (encrypt=3 with ssl-ca/tca, or ssl-mode=VERIFY_CA)",
		cfg.Sources["donor-auth"], where)
}

// listenHost is the host the joiner listens on, as far as the option
// files tell: the host of joinerAddress, "" when only mysqld knows it.
func (c *checker) listenHost() string {
	if a := c.server.recvAddress; a != "" && !strings.EqualFold(a, "AUTO") {
		return hostOf(a)
	}
	return hostOf(c.server.nodeAddress)
}

// isLoopback reports whether host (a name or an IP, IPv6 possibly in
// brackets) only reaches this machine.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
