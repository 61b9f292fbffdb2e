// Package mariadb reads MariaDB's version strings: the server version in
// a program's "--version" output (mariadbd, mariadb-backup) and a version
// as a person writes it. It is the one place that parses them; the SST
// (option groups by series) and the check (tool and redo-format
// verdicts) both use it. It runs no program and knows no configuration:
// callers hand it text. It is a leaf and imports nothing of the project.
package mariadb
