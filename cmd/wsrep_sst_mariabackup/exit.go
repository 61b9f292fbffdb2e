package main

import "wsrep_sst_mariabackup/internal/fail"

// exitCode is the one place an error becomes the exit code mysqld sees:
// its class (package fail), as the script's code. mysqld turns the code
// into a negative errno, and on the donor it travels to the joiner
// ("State transfer to X failed: -22 (Invalid argument)"), so each one is
// an errno that means what happened. README.md documents the table.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	switch fail.ClassOf(err) {
	case fail.Missing:
		return 2 // ENOENT
	case fail.Interrupted:
		return 3 // trap 'exit 3' INT QUIT TERM
	case fail.KeyConfig:
		return 3 // get_keys exits 3
	case fail.Unsafe:
		return 21 // safe() in wsrep_sst_common exits 21
	case fail.Access:
		return 13 // EACCES
	case fail.CrossDevice:
		return 18 // EXDEV
	case fail.Invalid:
		return 22 // EINVAL
	case fail.NoSpace:
		return 28 // ENOSPC
	case fail.Transfer:
		return 32 // EPIPE; trap 'exit 32' HUP PIPE
	case fail.TooOld:
		return 93 // EPROTONOSUPPORT-ish: the script's "Upgrade joiner"
	case fail.Stalled:
		return 110 // ETIMEDOUT
	case fail.Busy:
		return 114 // EALREADY
	}
	return 1
}
