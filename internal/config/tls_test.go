package config

import "testing"

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		role string
		opts map[string]string
		want TLSFiles
		note bool
	}{
		{"ssl-* used without t*", "joiner",
			map[string]string{"ssl-ca": "/ca.pem", "ssl-cert": "/c.pem", "ssl-key": "/k.pem"},
			TLSFiles{CA: "/ca.pem", Cert: "/c.pem", Key: "/k.pem"}, false},
		{"t* shadow ssl-*", "donor",
			map[string]string{"tca": "/a.pem", "tcert": "/b.pem", "ssl-ca": "/ca.pem"},
			TLSFiles{CA: "/a.pem", Cert: "/b.pem"}, true},
		{"server overrides on the joiner", "joiner",
			map[string]string{"ssl-cert": "/c.pem", "ssl-key": "/k.pem", "ssl-server-cert": "/s.pem", "ssl-client-cert": "/cl.pem"},
			TLSFiles{Cert: "/s.pem", Key: "/k.pem"}, false},
		{"client overrides on the donor", "donor",
			map[string]string{"ssl-cert": "/c.pem", "ssl-client-cert": "/cl.pem", "ssl-client-key": "/clk.pem"},
			TLSFiles{Cert: "/cl.pem", Key: "/clk.pem"}, false},
		{"directory CA is a CA path", "donor",
			map[string]string{"tca": dir},
			TLSFiles{CAPath: dir}, false},
		{"trailing slash is a CA path", "donor",
			map[string]string{"ssl-ca": "/etc/certs/"},
			TLSFiles{CAPath: "/etc/certs/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{TLS: tt.opts, Args: &Args{Role: tt.role}}
			got := c.TLSFiles()
			if (got.Note != "") != tt.note {
				t.Errorf("note = %q, want note: %v", got.Note, tt.note)
			}
			got.Note = ""
			if got != tt.want {
				t.Errorf("TLSFiles() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
