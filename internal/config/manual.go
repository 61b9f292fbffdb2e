package config

import "context"

// Manual is an SST run that a person starts rather than mysqld (the
// operator commands receive and send, and the check): the settings mysqld
// would pass on the command line, as values. Its Load and Args resolve
// them through the same argument rules as mysqld's argv (the script's
// case loop, address splitting, port reconciliation), so such a run
// behaves exactly as an SST mysqld starts with these values. Empty fields
// are not passed.
type Manual struct {
	// Role is "joiner" or "donor" (--role).
	Role string
	// Address is the SST address (--address): the joiner's listen
	// address ADDR[:PORT], or for a donor the joiner's
	// "host:port/module/token/sst_ver" as a ready line gives it.
	Address string
	// Datadir is the node's datadir (--datadir).
	Datadir string
	// Socket is the donor server's socket (--socket).
	Socket string
	// DefaultsFile is read instead of the default option files
	// (--defaults-file).
	DefaultsFile string
	// Progress reports the data stage's progress on stdout (--progress 1).
	Progress bool
	// GTID and GTIDDomainID are the donor's position (--gtid,
	// --gtid-domain-id).
	GTID, GTIDDomainID string
}

// argv is the command line mysqld would pass for m: the one place a
// manual run's settings become argv, for the parser they must go through.
func (m Manual) argv() []string {
	var a []string
	for _, o := range []struct{ name, val string }{
		{"--role", m.Role},
		{"--address", m.Address},
		{"--datadir", m.Datadir},
		{"--gtid", m.GTID},
		{"--gtid-domain-id", m.GTIDDomainID},
		{"--socket", m.Socket},
		{"--defaults-file", m.DefaultsFile},
	} {
		if o.val != "" {
			a = append(a, o.name, o.val)
		}
	}
	if m.Progress {
		a = append(a, "--progress", "1")
	}
	return a
}

// Args parses m as ParseArgs parses mysqld's argv.
func (m Manual) Args(getenv func(string) string) (*Args, error) {
	return ParseArgs(m.argv(), getenv)
}

// Load is Load with m in place of p.Argv, which must be empty.
func (m Manual) Load(ctx context.Context, p LoadParams) (*Config, error) {
	p.Argv = m.argv()
	return Load(ctx, p)
}
