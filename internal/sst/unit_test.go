package sst

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"wsrep_sst_mariabackup/internal/config"
	"wsrep_sst_mariabackup/internal/status"
)

func TestWipeDirsKeepsCpat(t *testing.T) {
	d := t.TempDir()
	for _, f := range []string{"grastate.dat", "ibdata1", "x.pem", "wsrep_sst.pid", "mysql/user.frm", ".sst/a",
		"lost+found/x", ".status.json", "..status.json.tmp123", ".other.tmp1"} {
		p := filepath.Join(d, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(t.Context(), config.LoadParams{
		Argv:   []string{"--role", "joiner", "--address", "127.0.0.1:4444", "--datadir", d},
		Getenv: func(string) string { return "" },
		Search: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	re := cfg.CpatRegexp // the default cpat
	tg := targets{skip: []string{d + "/wsrep_sst.pid", d + "/.status.json", d + "/" + status.TempPattern(".status.json")}}
	var warned []string
	if err := wipeDirs([]string{"", d}, re, tg.skipped, func(m string) { warned = append(warned, m) }); err != nil {
		t.Fatal(err)
	}
	if len(warned) > 0 {
		t.Errorf("warnings: %q", warned)
	}
	var left []string
	entries, _ := os.ReadDir(d)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	if want := []string{"..status.json.tmp123", ".sst", ".status.json", "grastate.dat", "lost+found", "wsrep_sst.pid", "x.pem"}; !reflect.DeepEqual(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}

func TestCleanBinlogs(t *testing.T) {
	d := t.TempDir()
	os.Mkdir(filepath.Join(d, "binlogs"), 0o755)
	files := []string{"binlogs/mysql-bin.000001", "binlogs/mysql-bin.000002", "binlogs/mysql-bin.index", "mysql-bin.state", "binlogs/other.000001"}
	for _, f := range files {
		os.WriteFile(filepath.Join(d, f), nil, 0o644)
	}
	os.WriteFile(filepath.Join(d, "binlogs/mysql-bin.index"), []byte("binlogs/mysql-bin.000001\n"), 0o644)
	if err := cleanBinlogs(slog.New(NewLogHandler(&bytes.Buffer{}, slog.LevelInfo)), d, "binlogs/mysql-bin", "binlogs/mysql-bin.index"); err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		_, err := os.Stat(filepath.Join(d, f))
		if exists, want := err == nil, i == 4; exists != want {
			t.Errorf("%s exists = %v, want %v", f, exists, want)
		}
	}
}
