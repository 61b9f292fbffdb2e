package sst

// What a caller running Run in-process (internal/operator's receive and
// send) shares with it: the children's environment and the datadir's
// galera info file.

// ChildEnv is the environment Run gives a child: base (nil means ours)
// without the SST's secrets (WSREP_SST_OPT_*AUTH, *_PSWD, MYSQL_PWD), plus
// extra, which is where a password goes (MYSQL_PWD=...).
func ChildEnv(base []string, extra ...string) []string { return childEnv(base, extra...) }

// GaleraInfo reads the galera info file mariadb-backup wrote into a
// backup (and the joiner moved into dir), under its 10.x or 11.x name:
// its path and first line. The error wraps fs.ErrNotExist when there is
// none.
func GaleraInfo(dir string) (path, line string, err error) {
	if path, err = findInfoFile(dir); err != nil {
		return "", "", err
	}
	line, err = firstLine(path)
	return path, line, err
}
