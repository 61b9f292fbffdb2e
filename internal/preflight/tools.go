package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/mariadb"
	"wsrep_sst_mariabackup/internal/proc"
)

// version is a parsed MariaDB version, with the comparisons the checks need.
type version mariadb.Version

func (v version) String() string { return mariadb.Version(v).String() }

// series is "major.minor", the major version in MariaDB's sense.
func (v version) series() string { return mariadb.Version(v).Series() }

// less orders versions.
func (v version) less(o version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// sameSeries reports whether v and o are of one major version (10.11.x).
func (v version) sameSeries(o version) bool { return v.Major == o.Major && v.Minor == o.Minor }

// parseVersion finds the server version in a program's --version output.
func parseVersion(out string) (version, bool) {
	v, ok := mariadb.FindVersion(out)
	return version(v), ok
}

// output runs prog with args and returns its standard output and error,
// mixed; env is the child's whole environment besides PATH.
func (c *checker) output(ctx context.Context, name, path string, args []string, env ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.p.ChildTimeout)
	defer cancel()
	var out bytes.Buffer
	err := proc.Run(ctx, proc.Cmd{
		Name:   name,
		Path:   path,
		Args:   args,
		Env:    append([]string{"PATH=" + c.p.Path}, env...),
		Stdout: &out,
		Stderr: &out,
	})
	return out.String(), err
}

// childError is the first line of what a failed child said, or its error.
func childError(err error) string {
	var xe *proc.ExitError
	if errors.As(err, &xe) {
		if t := strings.TrimSpace(xe.Stderr); t != "" {
			line, _, _ := strings.Cut(t, "\n")
			return line
		}
	}
	return err.Error()
}

// tools checks that mariadb-backup is installed and built from the same
// server version as mariadbd, and that [sst] prepare-tool, if set, runs.
func (c *checker) tools(ctx context.Context) {
	c.r.Checks++
	mb, ok := c.lookPath("mariadb-backup")
	if !ok {
		c.problem("mariadb-backup not found in PATH (%s)", "install the mariadb-backup package of the server's version", c.p.Path)
		return
	}
	out, err := c.output(ctx, "mariadb-backup --version", mb, []string{"--version"})
	mbv, ok := parseVersion(out)
	if ok {
		c.versions.backup = &mbv
	}
	if !ok {
		why := "no version in its output"
		if err != nil {
			why = childError(err)
		}
		c.problem("%s --version: %s", "reinstall the mariadb-backup package of the server's version", mb, why)
		return
	}
	if cfg := c.anyConfig(); cfg != nil && cfg.PrepareTool != "" {
		c.prepareTool(ctx, cfg.PrepareTool)
	}
	srv, ok := c.lookPath("mariadbd", "/usr/sbin", "/usr/local/sbin", "/usr/libexec")
	if !ok {
		if srv, ok = c.lookPath("mysqld", "/usr/sbin", "/usr/local/sbin", "/usr/libexec"); !ok {
			c.skip("mariadb-backup version against the server's (mariadbd not found)")
			return
		}
	}
	out, err = c.output(ctx, "mariadbd --version", srv, []string{"--version"})
	sv, ok := parseVersion(out)
	if ok {
		c.versions.server = &sv
	}
	if !ok {
		why := "no version in its output"
		if err != nil {
			why = childError(err)
		}
		c.skip(fmt.Sprintf("mariadb-backup version against the server's (%s --version: %s)", srv, why))
		return
	}
	switch {
	case !mbv.sameSeries(sv):
		c.problem("%s is version %s but the server (%s) is %s: mariadb-backup cannot back up or prepare another major version's data",
			"install the mariadb-backup package of the server's version ("+sv.String()+")", mb, mbv, srv, sv)
	case mbv != sv:
		c.problem("%s is version %s but the server (%s) is %s: mixed packages after a partial upgrade",
			"upgrade mariadb-backup and the server to the same version", mb, mbv, srv, sv)
	}
}

// prepareTool checks [sst] prepare-tool: it must run and print a version.
func (c *checker) prepareTool(ctx context.Context, tool string) {
	path := tool
	if !strings.Contains(tool, "/") {
		p, ok := c.lookPath(tool)
		if !ok {
			c.problem("[sst] prepare-tool=%s: not found in PATH", "set prepare-tool to the full path of the mariadb-backup to prepare with, or remove it", tool)
			return
		}
		path = p
	}
	out, err := c.output(ctx, "prepare-tool --version", path, []string{"--version"})
	if v, ok := parseVersion(out); ok {
		c.versions.prepare = &v
		return
	}
	why := "no MariaDB version in its output"
	if err != nil {
		why = childError(err)
	}
	c.problem("[sst] prepare-tool=%s --version: %s", "set prepare-tool to a working mariadb-backup program, or remove it", tool, why)
}

// anyConfig returns a loaded configuration, the joiner's first.
func (c *checker) anyConfig() *config.Config {
	if cfg := c.configs["joiner"]; cfg != nil {
		return cfg
	}
	return c.configs["donor"]
}
