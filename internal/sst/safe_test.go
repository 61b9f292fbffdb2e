package sst

import (
	"strings"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/fail"
)

// TestUnsafeSSTUser: the SST user goes through safe() before it reaches
// mariadb-backup's argv: exit 21, a message naming the user option and
// the character, never the password; one row per character class.
func TestUnsafeSSTUser(t *testing.T) {
	for _, tt := range []struct {
		user, char string
	}{
		{"sst user", "a space"},
		{"sst'", "a single quote"},
		{"`id`", "a backquote"},
		{"$USER", "'$'"},
	} {
		t.Run(tt.char, func(t *testing.T) {
			s := &session{cfg: &config.Config{User: tt.user, Password: "pw-not-shown"}, args: &config.Args{}}
			_, _, err := s.backupConnection()
			if fail.ClassOf(err) != fail.Unsafe || !strings.Contains(err.Error(), "SST user") || !strings.Contains(err.Error(), tt.char) {
				t.Fatalf("backupConnection: %v (class %v), want unsafe naming the SST user and %s", err, fail.ClassOf(err), tt.char)
			}
			if strings.Contains(err.Error(), "pw-not-shown") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
