package config

import "errors"

// Sentinel errors callers branch on to pick the exit code mysqld sees.
var (
	// ErrInvalid marks an invalid argument or option value (EINVAL, 22).
	ErrInvalid = errors.New("config: invalid value")
	// ErrPortConflict marks --port disagreeing with the port in --address;
	// the stock script exits 2 for it.
	ErrPortConflict = errors.New("config: port conflict")
	// ErrFile marks an option file that cannot be read or an include
	// loop (ENOENT-style, 2).
	ErrFile = errors.New("config: option file")
	// ErrUnsafe marks a value with a character that safe() in
	// wsrep_sst_common refuses; the script exits 21 for it.
	ErrUnsafe = errors.New("config: unsafe value")
)
