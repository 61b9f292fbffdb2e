package preflight

import (
	"fmt"

	"wsrep_sst_mariabackup/internal/mariadb"
)

// redoFormats are the InnoDB redo-log format changes that make a backup
// unpreparable by a mariadb-backup of another format, each with the first
// version that writes the new format. MariaDB's storage/innobase log0log.h
// names them log_t::FORMAT_10_5 ("The MariaDB 10.5.1 physical redo log
// format", MDEV-12353) and log_t::FORMAT_10_8 (variable block size,
// MDEV-14425, first released in 10.8.1). The KB page of the mariabackup
// SST method: "The InnoDB redo log format has been changed in MariaDB 10.5
// and MariaDB 10.8 in a way that will not allow the crash recovery or the
// preparation of a backup from an older major version".
var redoFormats = []struct {
	since version
	mdev  string
}{
	{version{10, 5, 1}, "MDEV-12353"},
	{version{10, 8, 1}, "MDEV-14425"},
}

// redoFormat is the index of v's redo-log format: 0 before 10.5.1, 1 from
// 10.5.1, 2 from 10.8.1.
func redoFormat(v version) int {
	f := 0
	for i, r := range redoFormats {
		if !v.less(r.since) {
			f = i + 1
		}
	}
	return f
}

// redoChange names the format changes between versions a and b, "" when
// both write one format.
func redoChange(a, b version) string {
	fa, fb := redoFormat(a), redoFormat(b)
	if fa > fb {
		fa, fb = fb, fa
	}
	s := ""
	for _, r := range redoFormats[fa:fb] {
		if s != "" {
			s += " and "
		}
		s += fmt.Sprintf("of %s (%s)", r.since, r.mdev)
	}
	return s
}

// canPrepare reports whether mariadb-backup tool can prepare a backup
// taken by a mariadb-backup of version backup: the same redo-log format,
// and not an older major version than the backup's (a downgrade, which
// MariaDB does not support: 10.11's mariadb-backup fails on an 11.8
// backup, see README "MariaDB versions").
func canPrepare(tool, backup version) bool {
	return redoFormat(tool) == redoFormat(backup) && !tool.majorLess(backup)
}

// majorLess reports whether v is of an older major version (series) than o.
func (v version) majorLess(o version) bool {
	return v.Major < o.Major || v.Major == o.Major && v.Minor < o.Minor
}

// parsePeer parses --peer-version: 10.6.21, 10.6, or a server's whole
// version string (10.6.21-MariaDB-log). A version without a patch level
// stands for its series' releases: the first of the series that writes
// the new format was its first release (10.5.0 was an alpha, 10.8.0 never
// released), so it is taken as X.Y.1.
func parsePeer(s string) (version, error) {
	v, ok := mariadb.ParseVersion(s)
	if !ok {
		return version{}, fmt.Errorf("--peer-version %q: want the other node's server version, as 10.6.21 or 10.6", s)
	}
	if v.Patch < 0 {
		v.Patch = 1
	}
	return version(v), nil
}

// peerSide is what the straddle verdict needs to know of this node.
type peerSide struct {
	// server is this node's mariadbd version.
	server version
	// backup is this node's mariadb-backup (the default prepare tool).
	backup version
	// prepareTool is [sst] prepare-tool ("" when unset) and
	// prepareVersion its version (nil when unknown).
	prepareTool    string
	prepareVersion *version
}

// peerJoiner is the verdict for an SST from a peer donor of version peer
// into this node as joiner. The joiner prepares what the donor backed up,
// with prepare-tool if set, else its own mariadb-backup; then its server
// starts on the prepared data.
func peerJoiner(me peerSide, peer version, peerText string) Finding {
	dir := fmt.Sprintf("an SST from the %s donor to this %s joiner", peerText, me.server)
	change := redoChange(peer, me.server)
	straddle, downgrade := "does not straddle an InnoDB redo-log format change", " is a downgrade"
	if change != "" {
		straddle = "straddles the InnoDB redo-log format change " + change
		downgrade += " across the InnoDB redo-log format change " + change
	}
	toolFix := fmt.Sprintf("on this joiner set [sst] prepare-tool = /path/to/the %s mariadb-backup (the donor's major version; from its package unpacked aside)", peer.series())
	if me.server.majorLess(peer) {
		return Finding{Level: Problem,
			What: fmt.Sprintf("%s%s: the joiner prepares the donor's backup, and MariaDB does not support running a %s mariadb-backup or server on %s data (no downgrade is; 10.11's mariadb-backup fails to prepare an 11.8 backup)",
				dir, downgrade, me.server.series(), peer.series()),
			Fix: fmt.Sprintf("let a %s node be this node's donor (wsrep_sst_donor), or upgrade this node to %s before it joins", me.server.series(), peer.series())}
	}
	if me.prepareTool != "" {
		if me.prepareVersion == nil {
			return Finding{Level: Problem,
				What: fmt.Sprintf("%s %s: the joiner prepares the donor's backup with [sst] prepare-tool=%s, whose version is unknown (see above)", dir, straddle, me.prepareTool),
				Fix:  "set prepare-tool to a working mariadb-backup of the donor's major version " + peer.series()}
		}
		tv := *me.prepareVersion
		if canPrepare(tv, peer) {
			return Finding{Level: Note,
				What: fmt.Sprintf("%s %s; the joiner prepares the donor's backup with [sst] prepare-tool=%s (mariadb-backup %s), which can prepare a %s backup", dir, straddle, me.prepareTool, tv, peer.series())}
		}
		why := "a newer major version's backup"
		if c := redoChange(tv, peer); c != "" {
			why = "a backup across the redo-log format change " + c
		}
		return Finding{Level: Problem,
			What: fmt.Sprintf("%s %s; the joiner prepares the donor's backup with [sst] prepare-tool=%s, which is mariadb-backup %s and cannot prepare %s", dir, straddle, me.prepareTool, tv, why),
			Fix:  toolFix + ", or remove prepare-tool if the donor is of this node's format"}
	}
	if canPrepare(me.backup, peer) {
		return Finding{Level: Note,
			What: fmt.Sprintf("%s %s; the joiner prepares the donor's backup with its own mariadb-backup %s, which can: no prepare-tool needed", dir, straddle, me.backup)}
	}
	return Finding{Level: Problem,
		What: fmt.Sprintf("%s %s: the joiner prepares the donor's backup, and its own mariadb-backup %s cannot prepare a %s backup", dir, straddle, me.backup, peer.series()),
		Fix:  toolFix}
}

// peerDonor is the verdict for an SST from this node as donor to a peer
// joiner of version peer, which prepares this node's backup with its own
// mariadb-backup unless its prepare-tool says otherwise (check cannot see
// the peer's settings, so these are warnings, never problems).
func peerDonor(me peerSide, peer version, peerText string) Finding {
	dir := fmt.Sprintf("an SST from this %s donor to the %s joiner", me.server, peerText)
	change := redoChange(peer, me.server)
	straddle, downgrade := "does not straddle an InnoDB redo-log format change", " is a downgrade"
	if change != "" {
		straddle = "straddles the InnoDB redo-log format change " + change
		downgrade += " across the InnoDB redo-log format change " + change
	}
	if peer.majorLess(me.server) {
		return Finding{Level: Warning,
			What: fmt.Sprintf("%s%s: the joiner prepares this donor's backup, and MariaDB does not support running a %s mariadb-backup or server on %s data (no downgrade is)", dir, downgrade, peer.series(), me.server.series()),
			Fix:  fmt.Sprintf("let the %s joiner take a %s donor (wsrep_sst_donor on the joiner), or upgrade it to %s first", peer.series(), peer.series(), me.server.series())}
	}
	if change != "" {
		return Finding{Level: Warning,
			What: fmt.Sprintf("%s %s: the joiner prepares this donor's backup, and a %s mariadb-backup cannot", dir, straddle, peer.series()),
			Fix:  fmt.Sprintf("on the joiner set [sst] prepare-tool = /path/to/the %s mariadb-backup (this donor's major version)", me.server.series())}
	}
	return Finding{Level: Note,
		What: fmt.Sprintf("%s %s; the joiner prepares this donor's backup with its own %s mariadb-backup, which can: no prepare-tool needed", dir, straddle, peer.series())}
}

// peerCheck explains, for --peer-version, whether this node and the peer
// straddle a redo-log format change in each selected role.
func (c *checker) peerCheck(roles []string) {
	if c.peer == nil {
		if v := c.versions.prepare; v != nil {
			c.add(Finding{Level: Note, What: fmt.Sprintf("[sst] prepare-tool=%s is mariadb-backup %s: it prepares backups of %s donors (and older ones of its redo-log format); give --peer-version to check it against a donor",
				c.prepareToolName(), v, v.series())})
		}
		return
	}
	c.r.Checks++
	me := peerSide{prepareTool: c.prepareToolName(), prepareVersion: c.versions.prepare}
	switch {
	case c.versions.server != nil:
		me.server = *c.versions.server
	case c.versions.backup != nil:
		me.server = *c.versions.backup // they must match (checked above)
	default:
		c.skip("the peer version against this node's (no server or mariadb-backup version found)")
		return
	}
	me.backup = me.server
	if c.versions.backup != nil {
		me.backup = *c.versions.backup
	}
	for _, role := range roles {
		if role == "joiner" {
			c.add(peerJoiner(me, *c.peer, c.p.PeerVersion))
		} else {
			c.add(peerDonor(me, *c.peer, c.p.PeerVersion))
		}
	}
}

// prepareToolName is [sst] prepare-tool, "" when unset.
func (c *checker) prepareToolName() string {
	if cfg := c.anyConfig(); cfg != nil {
		return cfg.PrepareTool
	}
	return ""
}
