package config

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckSafe: one row per character class safe() in wsrep_sst_common
// refuses, and the ones it lets through.
func TestCheckSafe(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		char        string // "" when accepted
	}{
		{"space", "sst user", "a space"},
		{"single quote", "sst'user", "a single quote"},
		{"backquote", "sst`id`", "a backquote"},
		{"dollar", "sst$(id)", "'$'"},
		{"tab passes safe()", "sst\tuser", ""},
		{"newline passes safe()", "sst\nuser", ""},
		{"double quote passes safe()", `sst"user`, ""},
		{"plain", "sst_user-1.x@host", ""},
		{"empty", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSafe("the thing", tt.value)
			if tt.char == "" {
				if err != nil {
					t.Fatalf("CheckSafe(%q) = %v, want nil", tt.value, err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "the thing") || !strings.Contains(err.Error(), tt.char) {
				t.Fatalf("CheckSafe(%q) = %v, want ErrUnsafe naming the thing and %s", tt.value, err, tt.char)
			}
			if strings.Contains(err.Error(), tt.value) {
				t.Errorf("the error %q echoes the value", err)
			}
		})
	}
}

// TestLoadUnsafeAddress: the address parts setup_ports passes through
// safe() (the port on both roles; the joiner's host, LSN and sst_ver on
// the donor) are refused with ErrUnsafe (exit 21), one row per part and
// character class.
func TestLoadUnsafeAddress(t *testing.T) {
	type row struct {
		name string
		argv []string
		what string // "" when accepted
	}
	var rows []row
	for _, c := range []struct{ name, ch string }{{"space", " "}, {"quote", "'"}, {"backquote", "`"}, {"dollar", "$"}} {
		rows = append(rows,
			row{"donor host " + c.name, []string{"--role", "donor", "--address", "10.0.0" + c.ch + "2:4444/xtrabackup_sst//1", "--datadir", "/d"}, "joiner's host"},
			row{"donor lsn " + c.name, []string{"--role", "donor", "--address", "10.0.0.2:4444/xtrabackup_sst/x" + c.ch + "y/1", "--datadir", "/d"}, "LSN"},
			row{"donor sst_ver " + c.name, []string{"--role", "donor", "--address", "10.0.0.2:4444/xtrabackup_sst//1" + c.ch + "2", "--datadir", "/d"}, "sst_ver"},
			row{"joiner port " + c.name, []string{"--role", "joiner", "--address", "10.0.0.1:44" + c.ch + "44", "--datadir", "/d"}, "SST port"},
		)
	}
	// The joiner's own host is not passed through safe() by the script.
	rows = append(rows, row{"donor plain", donorArgv, ""}, row{"joiner plain", joinerArgv, ""})
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadCnf(t, "", nil, tt.argv...)
			if tt.what == "" {
				if err != nil {
					t.Fatalf("Load: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tt.what) {
				t.Fatalf("Load: %v, want ErrUnsafe naming %s", err, tt.what)
			}
		})
	}
}
