package config

import (
	"fmt"
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

// TransportTLS is read_cnf's resolution of encrypt and ssl-mode for this
// role, done once by Load.
type TransportTLS struct {
	// Encrypt is the encrypt option after read_cnf's upgrade: an ssl-mode
	// other than DISABLED with encrypt=0 and a certificate and key turns
	// into encrypt=3.
	Encrypt int
	// Mode is SSLMode.
	Mode string
	// CA, CAPath, Cert and Key are the files to use (see TLSFiles), empty
	// when no TLS is configured; for an upgraded encrypt=3 without a
	// VERIFY_* mode the CA is dropped, since the nodes may have
	// different self-generated CAs.
	CA, CAPath, Cert, Key string
	// Notes are the lines the script logs at INFO while resolving, in
	// order; the caller logs them before using the result.
	Notes []string
}

// transportTLS mirrors the encrypt/ssl-mode part of read_cnf and
// check_server_ssl_config. getenv reads the MTR test hook
// MTR_SST_SIMULATE_NO_SSL_CERT. A mode other than DISABLED that is left
// with Encrypt 0 (no certificate and key) is for the caller to refuse.
func (c *Config) transportTLS(getenv func(string) string) TransportTLS {
	t := TransportTLS{Encrypt: c.Encrypt, Mode: c.SSLMode}
	mode := c.SSLMode
	if t.Encrypt == 0 || t.Encrypt >= 2 {
		if mode != "DISABLED" || t.Encrypt >= 2 {
			f := c.TLSFiles()
			if f.Note != "" {
				t.Notes = append(t.Notes, f.Note)
			}
			t.CA, t.CAPath, t.Cert, t.Key = f.CA, f.CAPath, f.Cert, f.Key
		}
		// MTR test hook: simulate a missing SSL certificate and key.
		if getenv("MTR_SST_SIMULATE_NO_SSL_CERT") != "" {
			t.Cert, t.Key = "", ""
		}
		if mode != "DISABLED" && t.Encrypt == 0 && t.Cert != "" && t.Key != "" {
			t.Encrypt = 3 // enable cert/key SSL encryption
			// Nodes may have different self-generated CAs: verify
			// only when ssl-mode asks for it.
			if !strings.HasPrefix(mode, "VERIFY") {
				t.CA, t.CAPath = "", ""
			}
		}
	}
	t.Notes = append(t.Notes, fmt.Sprintf("SSL configuration: CA='%s', CAPATH='%s', CERT='%s', KEY='%s', MODE='%s', encrypt='%d'",
		t.CA, t.CAPath, t.Cert, t.Key, mode, t.Encrypt))
	return t
}
