package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzOptionFile parses arbitrary content as an option file. The file
// lives in an in-memory file system next to a few others it may include
// (or include itself from), so the fuzzer never touches real files. It
// checks that reading neither panics nor hangs, that every error wraps
// ErrFile, and that printing and lookups work on whatever was read.
func FuzzOptionFile(f *testing.F) {
	err := filepath.WalkDir("testdata/cnf", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".golden") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f.Add(data)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range quirkCases {
		f.Add([]byte(strings.ReplaceAll(tc.files["main.cnf"], "@DIR@", "/cnf")))
	}
	f.Add([]byte("[x]\n!include /cnf/main.cnf\n"))
	f.Add([]byte("[x]\n!includedir /cnf\n"))
	f.Add([]byte("[x]\n!include /cnf/inc.cnf\n!includedir /cnf/conf.d\nk = \"v\\s\" # c\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"cnf/main.cnf":      {Data: data, Mode: 0o644},
			"cnf/inc.cnf":       {Data: []byte("[mysqld]\ninc=1\n!include /cnf/leaf.cnf\n"), Mode: 0o644},
			"cnf/leaf.cnf":      {Data: []byte("[sst]\nleaf\n"), Mode: 0o644},
			"cnf/conf.d/a.cnf":  {Data: []byte("[galera]\na = 'x'\n"), Mode: 0o644},
			"cnf/conf.d/ww.cnf": {Data: []byte("[galera]\nww=1\n"), Mode: 0o666},
		}
		env := optionEnv{fsys: fsys, getenv: func(string) string { return "" }, cwd: "/cnf"}
		of, err := readOptionFiles(Files{DefaultsFile: "/cnf/main.cnf", GroupSuffix: ".1"}, env)
		if err != nil {
			if !errors.Is(err, ErrFile) {
				t.Fatalf("error %q does not wrap ErrFile", err)
			}
			return
		}
		for _, o := range of.options {
			if o.Line < 1 || o.File == "" {
				t.Fatalf("option %+v has no position", o)
			}
		}
		of.Print("--mysqld", "sst", "x", "")
		of.Lookup("--mysqld|mysqld|sst||x", "k")
		of.Has("mysqld|galera", "a")
		of.Files()
		of.Warnings()
	})
}
