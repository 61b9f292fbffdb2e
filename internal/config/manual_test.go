package config

import (
	"reflect"
	"testing"
)

// TestManualArgs: a Manual resolves as the argv mysqld would pass with
// the same values, and leaves out what is empty.
func TestManualArgs(t *testing.T) {
	getenv := func(string) string { return "" }
	tests := []struct {
		name string
		m    Manual
		argv []string
	}{
		{"joiner", Manual{Role: "joiner", Address: "10.0.0.2:4567", Datadir: "/var/lib/mysql/", Progress: true},
			[]string{"--role", "joiner", "--address", "10.0.0.2:4567", "--datadir", "/var/lib/mysql/", "--progress", "1"}},
		{"donor", Manual{Role: "donor", Address: "10.0.0.2:4444/xtrabackup_sst//1", Datadir: "/d", Socket: "/run/s.sock",
			GTID: "0ab161ca-ed72-11f1-a409-8b473c53336a:5", GTIDDomainID: "0", DefaultsFile: "/etc/my.cnf"},
			[]string{"--defaults-file", "/etc/my.cnf", "--role", "donor", "--datadir", "/d", "--socket", "/run/s.sock",
				"--address", "10.0.0.2:4444/xtrabackup_sst//1", "--gtid", "0ab161ca-ed72-11f1-a409-8b473c53336a:5", "--gtid-domain-id", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Args(getenv)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ParseArgs(tt.argv, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Manual.Args =\n%+v\nwant (ParseArgs of %q)\n%+v", got, tt.argv, want)
			}
		})
	}
}
