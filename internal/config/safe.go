package config

import (
	"fmt"
	"strings"
)

// unsafeChars are the characters safe() in wsrep_sst_common refuses: a
// space, a single quote, a backquote and '$' (the pattern
// *[\ \'\`\$]*). Tabs, newlines and double quotes pass safe(), in the
// script as here.
const unsafeChars = " '`$"

// CheckSafe mirrors safe() in wsrep_sst_common: a value the script puts
// into a shell command line must hold none of unsafeChars. The error
// wraps ErrUnsafe (exit 21, as safe() exits) and names what the value is
// and the character, never the value itself, which may be a peer's
// secret or carry one.
func CheckSafe(what, value string) error {
	i := strings.IndexAny(value, unsafeChars)
	if i < 0 {
		return nil
	}
	name := map[byte]string{' ': "a space", '\'': "a single quote", '`': "a backquote", '$': "'$'"}[value[i]]
	return fmt.Errorf("invalid value for %s: it contains %s (byte %d), which the stock script's safe() refuses: %w", what, name, i+1, ErrUnsafe)
}

// checkAddressSafe is setup_ports: the port on both roles, and on the
// donor the joiner's host, LSN and sst_ver from --address, which come
// from the joiner's request and so from a peer.
func checkAddressSafe(a *Args) error {
	checks := [][2]string{{"the SST port (WSREP_SST_OPT_PORT, from --address or --port)", a.Port}}
	if a.Role == "donor" {
		checks = append(checks,
			[2]string{"the joiner's host (WSREP_SST_OPT_HOST, from --address)", a.Host},
			[2]string{"the LSN part of --address (WSREP_SST_OPT_LSN)", a.LSN},
			[2]string{"the sst_ver part of --address (WSREP_SST_OPT_SST_VER)", a.SSTVer})
	}
	for _, c := range checks {
		if err := CheckSafe(c[0], c[1]); err != nil {
			return err
		}
	}
	return nil
}
