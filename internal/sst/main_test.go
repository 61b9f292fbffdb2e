package sst

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/format/mbstream"
)

// TestMain lets the test binary play mariadb-backup (the helper-process
// pattern of os/exec's tests): a symlink named mariadb-backup pointing at
// the test binary runs fakeBackup instead of the tests.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "mariadb-backup" {
		os.Exit(fakeBackup(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeBackup imitates the parts of mariadb-backup the SST drives. It
// fails (exit 3) when a password shows up in its argv, and its backup
// checks that MYSQL_PWD is what FAKE_WANT_PWD says.
func fakeBackup(args []string) int {
	if bad := secretsInEnv(hasArg(args, "--backup")); bad != "" {
		fmt.Fprintln(os.Stderr, "secret in the environment:", bad)
		return 10
	}
	opt := map[string]string{}
	for _, a := range args {
		if strings.Contains(a, "s3cret") {
			fmt.Fprintln(os.Stderr, "password in argv:", a)
			return 3
		}
		k, v, _ := strings.Cut(a, "=")
		opt[k] = v
	}
	if _, ok := opt["--help"]; ok {
		fmt.Println("  --version-check     fake")
		return 0
	}
	fmt.Fprintln(os.Stderr, "fake mariadb-backup", strings.Join(args, " "))
	switch {
	case hasKey(opt, "--backup"):
		if want := os.Getenv("FAKE_WANT_PWD"); want != "" && os.Getenv("MYSQL_PWD") != want {
			fmt.Fprintln(os.Stderr, "MYSQL_PWD not passed")
			return 4
		}
		if os.Getenv("FAKE_FAIL") == "backup" {
			fmt.Fprintln(os.Stderr, "Access denied for user")
			return 1
		}
		if os.Getenv("FAKE_FAIL") == "midway" {
			// Die in the middle of a file, after real data went out.
			w := mbstream.NewWriter(os.Stdout)
			f, _ := w.Create("db/big.ibd")
			_, _ = f.Write(make([]byte, 11<<20))
			fmt.Fprintln(os.Stderr, "InnoDB: Operating system error number 5")
			return 1
		}
		if os.Getenv("FAKE_FAIL") == "endless" {
			// A backup far bigger than the test will ever read: random
			// (incompressible) data until stdout breaks or we are
			// killed.
			if m := os.Getenv("FAKE_GRANDCHILD"); m != "" {
				// A child of ours that ignores SIGTERM and holds our
				// stdout, named by m on its command line.
				gc := exec.Command("sh", "-c", "trap '' TERM; exec sleep 1000 "+m)
				gc.Stdout = os.Stdout
				if err := gc.Start(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 11
				}
			}
			w := mbstream.NewWriter(os.Stdout)
			f, _ := w.Create("db/huge.ibd")
			buf := make([]byte, 1<<20)
			rng := rand.NewChaCha8([32]byte{})
			for {
				_, _ = rng.Read(buf)
				if _, err := f.Write(buf); err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					return 1
				}
			}
		}
		if os.Getenv("FAKE_FAIL") == "hang" {
			// Send a little, then block like a backup waiting for a lock.
			w := mbstream.NewWriter(os.Stdout)
			_ = w.WriteFile("xtrabackup_checkpoints", []byte("backup_type = full-backuped\n"))
			time.Sleep(time.Minute)
			return 0
		}
		if mb, _ := strconv.Atoi(os.Getenv("FAKE_BACKUP_MB")); mb > 0 {
			return fakeBigBackup(opt["--datadir"], mb)
		}
		w := mbstream.NewWriter(os.Stdout)
		must := func(err error) {
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(5)
			}
		}
		must(w.WriteFile("xtrabackup_checkpoints", []byte("backup_type = full-backuped\nfrom_lsn = 0\n")))
		if gate := os.Getenv("FAKE_GATE"); gate != "" {
			// Wait for the test to create gate before the table goes.
			for i := 0; i < 300; i++ {
				if _, err := os.Stat(gate); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		must(w.WriteFile("db/t1.ibd", fakeTable))
		info, err := os.ReadFile(filepath.Join(opt["--datadir"], "donor_galera_info"))
		must(err)
		must(w.WriteFile("xtrabackup_galera_info", info))
		must(w.WriteFile("donor_galera_info", info))
		must(w.Close())
		return 0
	case hasKey(opt, "--prepare"):
		switch os.Getenv("FAKE_FAIL") {
		case "prepare":
			fmt.Fprintln(os.Stderr, "[ERROR] InnoDB: Corruption of an index tree")
			return 1
		case "prepare-nospace":
			fmt.Fprintln(os.Stderr, "[ERROR] InnoDB: Error number 28 means 'No space left on device'")
			return 1
		}
		return writeFile(filepath.Join(opt["--target-dir"], "prepared"), "yes")
	case hasKey(opt, "--move-back"):
		src, dst := opt["--target-dir"], opt["--datadir"]
		entries, err := os.ReadDir(src)
		if err != nil {
			return 6
		}
		for _, e := range entries {
			if err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 7
			}
		}
		return 0
	}
	return 8
}

// secretsInEnv returns the first variable of our environment that no
// child may see: the SST credentials mysqld hands the script, and
// MYSQL_PWD unless pwdOK (mariadb-backup --backup gets the password so).
func secretsInEnv(pwdOK bool) string {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "WSREP_SST_OPT_") && strings.HasSuffix(k, "AUTH") ||
			strings.HasSuffix(k, "_PSWD") || k == "MYSQL_PWD" && !pwdOK {
			return k
		}
	}
	return ""
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

var fakeTable = []byte(strings.Repeat("innodb page data ", 4096))

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func writeFile(p, s string) int {
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		return 9
	}
	return 0
}

// fakeBigBackup streams a backup of a table of mb MiB whose 16 KiB pages
// compress about as sbtest's do (a quarter random bytes, the rest
// repeated text), in 10 MiB chunks as mariadb-backup writes them.
func fakeBigBackup(datadir string, mb int) int {
	bw := bufio.NewWriterSize(os.Stdout, 1<<20)
	w := mbstream.NewWriter(bw)
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	if err := w.WriteFile("xtrabackup_checkpoints", []byte("backup_type = full-backuped\nfrom_lsn = 0\n")); err != nil {
		return fail(err)
	}
	f, err := w.Create("db/big.ibd")
	if err != nil {
		return fail(err)
	}
	chunk := make([]byte, 10<<20)
	rng := rand.NewChaCha8([32]byte{1})
	text := []byte(strings.Repeat("68487932199-96439406143-93774651418-41631865787-", 400))
	for left := mb << 20; left > 0; left -= len(chunk) {
		for p := 0; p < len(chunk); p += 16 << 10 {
			page := chunk[p : p+16<<10]
			_, _ = rng.Read(page[:4<<10])
			copy(page[4<<10:], text)
		}
		if _, err := f.Write(chunk[:min(left, len(chunk))]); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	info, err := os.ReadFile(filepath.Join(datadir, "donor_galera_info"))
	if err != nil {
		return fail(err)
	}
	for _, n := range []string{"xtrabackup_galera_info", "donor_galera_info"} {
		if err := w.WriteFile(n, info); err != nil {
			return fail(err)
		}
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	return 0
}
