package config

import "wsrep_sst_mariabackup/internal/fail"

// Sentinel errors, each with its class (package fail): errors.Is finds
// them, and the exit code follows from the class.
var (
	// ErrInvalid marks an invalid argument or option value (EINVAL, 22).
	ErrInvalid = fail.New(fail.Invalid, "config: invalid value")
	// ErrPortConflict marks --port disagreeing with the port in --address;
	// the stock script exits 2 for it.
	ErrPortConflict = fail.New(fail.Missing, "config: port conflict")
	// ErrFile marks an option file that cannot be read or an include
	// loop (ENOENT-style, 2).
	ErrFile = fail.New(fail.Missing, "config: option file")
	// ErrUnsafe marks a value with a character that safe() in
	// wsrep_sst_common refuses; the script exits 21 for it.
	ErrUnsafe = fail.New(fail.Unsafe, "config: unsafe value")
)
