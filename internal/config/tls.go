package config

import (
	"os"
	"strings"
)

// TLSFiles are the certificate files one role uses for the SST transport.
type TLSFiles struct {
	CA, CAPath, Cert, Key string
	// Note is set when the [sst] tca/tcapath/tcert/tkey options shadow
	// different ssl-* options, which the script reports.
	Note string
}

// TLSFiles mirrors check_server_ssl_config: the [sst] tca, tcapath, tcert
// and tkey options, or, when none of them is set, ssl-ca, ssl-capath,
// ssl-cert and ssl-key from the mysqld/sst/xtrabackup/mariabackup groups;
// then the role-specific ssl-server-* (joiner, the TLS server) or
// ssl-client-* (donor) options override each; a CA ending in "/" or naming
// a directory is a CA path.
func (c *Config) TLSFiles() TLSFiles {
	t := c.TLS
	f := TLSFiles{CA: t["tca"], CAPath: t["tcapath"], Cert: t["tcert"], Key: t["tkey"]}
	n := TLSFiles{CA: t["ssl-ca"], CAPath: t["ssl-capath"], Cert: t["ssl-cert"], Key: t["ssl-key"]}
	switch {
	case f == TLSFiles{}:
		f = n
	case n != TLSFiles{} && n != f:
		f.Note = "new ssl configuration options (ssl-ca[path], ssl-cert and ssl-key) are ignored by SST due to presence of the tca[path], tcert and/or tkey in the [sst] section"
	}
	side := "ssl-client-"
	if c.Args.Role == "joiner" {
		side = "ssl-server-"
	}
	for _, o := range []struct {
		dst *string
		key string
	}{{&f.CA, "ca"}, {&f.CAPath, "capath"}, {&f.Cert, "cert"}, {&f.Key, "key"}} {
		if v := t[side+o.key]; v != "" {
			*o.dst = v
		}
	}
	if f.CA != "" {
		if st, err := os.Stat(f.CA); strings.HasSuffix(f.CA, "/") || (err == nil && st.IsDir()) {
			f.CAPath, f.CA = f.CA, ""
		}
	}
	return f
}
