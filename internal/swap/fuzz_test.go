package swap

import (
	"os"
	"reflect"
	"testing"
)

// FuzzJournal feeds arbitrary bytes to the journal reader, seeded with
// journals our writer produced. An accepted journal must survive a
// write/read round trip unchanged.
func FuzzJournal(f *testing.F) {
	e := setup(f, f.TempDir())
	p := e.plan()
	p.Hook = func(step string) {
		if b, err := os.ReadFile(e.journal); err == nil {
			f.Add(b)
		}
	}
	sw, err := Begin(f.Context(), p)
	if err != nil {
		f.Fatal(err)
	}
	e.moveIn(f, -1)
	if err := sw.Commit(f.Context()); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"format": "wsrep_sst_mariabackup swap journal", "version": 1, "state": "ready"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		const path = "/var/lib/mysql/sst_swap.journal"
		j, err := parseJournal(b, path)
		if err != nil {
			return
		}
		enc, err := j.encode()
		if err != nil {
			t.Fatal(err)
		}
		j2, err := parseJournal(enc, path)
		if err != nil {
			t.Fatalf("re-read of a written journal: %v", err)
		}
		if !reflect.DeepEqual(j.Moves, j2.Moves) || j.State != j2.State || j.Keep != j2.Keep ||
			!reflect.DeepEqual(j.Asides, j2.Asides) || !reflect.DeepEqual(j.Dirs, j2.Dirs) {
			t.Errorf("round trip changed the journal:\n%+v\n%+v", j, j2)
		}
	})
}
