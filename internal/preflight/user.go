package preflight

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"wsrep_sst_mariabackup/internal/config"
)

// defaultSocket is the server's compiled-in socket on Debian and Ubuntu.
const defaultSocket = "/run/mysqld/mysqld.sock"

// sstPrivileges are the global privileges mariadb-backup needs on the donor
// (MariaDB's "Manual SST of Galera Cluster node with mariadb-backup":
// RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR).
var sstPrivileges = []string{"RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR", "REPLICA MONITOR"}

// privilegeAliases maps the other spellings SHOW GRANTS may use to the
// names above: REPLICATION CLIENT became BINLOG MONITOR in 10.5.2, and
// REPLICA MONITOR is shown as SLAVE MONITOR.
var privilegeAliases = map[string]string{
	"REPLICATION CLIENT": "BINLOG MONITOR",
	"SLAVE MONITOR":      "REPLICA MONITOR",
}

// globalGrantRE matches a SHOW GRANTS line for global privileges and
// captures the privileges and the grantee.
var globalGrantRE = regexp.MustCompile("^GRANT (.+?) ON \\*\\.\\* TO ((?:`[^`]*`|'[^']*')@(?:`[^`]*`|'[^']*'))")

// missingPrivileges returns the sstPrivileges that the SHOW GRANTS output
// does not give on *.*, and the grantee as SHOW GRANTS names it. Roles are
// not followed.
func missingPrivileges(grants string) (missing []string, grantee string) {
	have := map[string]bool{}
	for _, line := range strings.Split(grants, "\n") {
		m := globalGrantRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if grantee == "" {
			grantee = m[2]
		}
		for _, p := range strings.Split(m[1], ",") {
			p = strings.ToUpper(strings.TrimSpace(p))
			if a, ok := privilegeAliases[p]; ok {
				p = a
			}
			have[p] = true
		}
	}
	if have["ALL PRIVILEGES"] || have["ALL"] {
		return nil, grantee
	}
	for _, p := range sstPrivileges {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	return missing, grantee
}

// credentials returns the SST user and password as mysqld hands them to
// the SST: [mysqld] wsrep_sst_auth, else what the SST itself would read
// ([sst] wsrep-sst-auth, WSREP_SST_OPT_AUTH).
func (c *checker) credentials(cfg *config.Config) (user, password, source string) {
	if a := c.server.auth; a != "" {
		u, pw, ok := strings.Cut(a, ":")
		if !ok {
			pw = a
		}
		return u, pw, "[mysqld] wsrep_sst_auth"
	}
	if cfg == nil {
		return "", "", ""
	}
	return cfg.User, cfg.Password.Reveal(), cfg.AuthSource
}

// sstUser logs in as the SST user through the local socket and checks its
// privileges; cfg is the donor's configuration, nil if it did not load.
// The password goes to the client as MYSQL_PWD only.
func (c *checker) sstUser(ctx context.Context, cfg *config.Config) {
	user, password, source := c.credentials(cfg)
	if user == "" {
		c.skip("SST user (none configured: set wsrep_sst_auth=user:password in [mysqld], or mariadb-backup connects as the system user running mysqld)")
		return
	}
	sock := c.server.socket
	if sock == "" {
		sock = defaultSocket
	}
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		c.skip(fmt.Sprintf("SST user login and privileges (mysqld is not running: no server on %s)", sock))
		return
	}
	conn.Close()
	c.r.Checks++
	client, ok := c.lookPath("mariadb")
	if !ok {
		if client, ok = c.lookPath("mysql"); !ok {
			c.skip("SST user login and privileges (the mariadb client is not installed)")
			return
		}
	}
	var args []string
	if c.p.DefaultsFile != "" {
		args = append(args, "--defaults-file="+c.p.DefaultsFile)
	}
	args = append(args, "--socket="+sock, "--user="+user, "--connect-timeout=5", "--batch", "--skip-column-names", "--execute=SHOW GRANTS")
	var env []string
	if password != "" {
		env = append(env, "MYSQL_PWD="+password)
	}
	out, err := c.output(ctx, "mariadb", client, args, env...)
	if err != nil {
		c.problem("the SST user '%s' (from %s) cannot log in through %s: %s", "create the user or correct wsrep_sst_auth (user:password); see README, 'SST user'", user, source, sock, firstLine(out, err))
		return
	}
	missing, grantee := missingPrivileges(out)
	if len(missing) == 0 {
		return
	}
	if grantee == "" {
		grantee = "'" + user + "'@'localhost'"
	}
	c.problem("the SST user '%s' lacks %s", fmt.Sprintf("GRANT %s ON *.* TO %s", strings.Join(missing, ", "), grantee), user, strings.Join(missing, ", "))
}

// firstLine is the first non-empty line of a failed child's output.
func firstLine(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return childError(err)
}
