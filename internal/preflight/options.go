package preflight

import (
	"fmt"
	"sort"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
)

// sstKeys are the options the SST reads from [sst]: the parse_cnf calls of
// wsrep_sst_mariabackup and wsrep_sst_common (read_cnf, the TLS and auth
// options), plus the options of this implementation. The keys of the
// resolved configuration (config.Config.Sources) are added at run time, so
// an option config learns later is known here too.
var sstKeys = []string{
	// [sst] only (groupsSST in internal/config).
	"streamfmt", "transferfmt", "tca", "tcapath", "tcert", "tkey",
	"sockopt", "progress", "time", "cpat", "compressor", "decompressor",
	"rlimit", "use-extra", "sst-special-dirs", "sst-initial-timeout",
	"sst-idle-timeout", "keep-datadir", "donor-auth", "prepare-tool", "sst-syslog",
	"sst-log-archive", "sst-log-archive-dir", "wsrep-sst-auth", "status-file",
	"transfer-v2", "parallel-streams",
	// sst|xtrabackup|mariabackup.
	"inno-backup-opts", "inno-apply-opts", "inno-move-opts", "use-memory",
	// --mysqld|sst|xtrabackup|mariabackup.
	"encrypt", "ssl-mode", "encrypt-algo", "encrypt-format", "encrypt-key",
	"encrypt-key-file", "encrypt-threads", "encrypt-chunk-size",
	"ssl-ca", "ssl-capath", "ssl-cert", "ssl-key",
	"ssl-server-ca", "ssl-server-capath", "ssl-server-cert", "ssl-server-key",
	"ssl-client-ca", "ssl-client-capath", "ssl-client-cert", "ssl-client-key",
	"ssl-dhparams", "compress", "compress-chunk-size", "compress-threads",
	"backup-threads", "tmpdir",
}

// normalKey is an option name as parse_cnf compares it: "loose-" dropped,
// '_' as '-'.
func normalKey(k string) string {
	k = strings.TrimPrefix(k, "loose-")
	k = strings.TrimPrefix(k, "loose_")
	return strings.ReplaceAll(k, "_", "-")
}

// unknownKeys reports [sst] options nothing reads: a typo there is
// silently ignored by the script and by us, so the setting never applies.
func (c *checker) unknownKeys() {
	c.r.Checks++
	known := map[string]bool{}
	for _, k := range sstKeys {
		known[k] = true
	}
	for _, cfg := range c.configs {
		for k := range cfg.Sources {
			known[k] = true
		}
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, line := range c.files.Print("sst") {
		raw, _, _ := strings.Cut(strings.TrimPrefix(line, "--"), "=")
		k := normalKey(raw)
		if known[k] || seen[k] {
			continue
		}
		seen[k] = true
		where := ""
		if o, ok := c.files.Lookup("sst", k); ok {
			where = fmt.Sprintf(" (%s:%d)", o.File, o.Line)
		}
		if near, ok := nearest(k, names); ok {
			c.problem("unknown [sst] option '%s'%s: the SST ignores it", "did you mean '"+near+"'? rename it", raw, where)
			continue
		}
		c.problem("unknown [sst] option '%s'%s: the SST ignores it", "remove it, or see README, '[sst] options', for the supported ones", raw, where)
	}
}

// nearest returns the known name closest to k within an edit distance of
// 2, the first in names' order on a tie.
func nearest(k string, names []string) (string, bool) {
	best, bestD := "", 3
	for _, n := range names {
		if d := levenshtein(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best, bestD <= 2
}

// levenshtein is the edit distance of a and b (insertions, deletions and
// substitutions of bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// values refuses what the SST refuses once its settings have loaded
// (internal/sst/support.go checkSupported), and warns about what it
// ignores.
func (c *checker) values(cfg *config.Config) {
	c.r.Checks++
	if f := cfg.StreamFmt; f != "mbstream" && f != "xbstream" {
		c.problem("streamfmt=%s (from %s) is not supported", "use streamfmt=mbstream (the default), or remove the option", f, cfg.Sources["streamfmt"])
	}
	switch f := cfg.TransferFmt; f {
	case "socat", "nc", "":
	default:
		c.problem("unknown transferfmt=%s (from %s)", "use socat or nc (both are replaced by the built-in pipe), or remove the option", f, cfg.Sources["transferfmt"])
	}
	if len(cfg.Sock.Ignored) > 0 {
		c.warning("sockopt (from %s): %s not applicable to the built-in pipe, ignored", "remove them from [sst] sockopt", cfg.Sources["sockopt"], strings.Join(cfg.Sock.Ignored, ","))
	}
}
