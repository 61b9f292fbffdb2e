package transfer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/xfer"
)

// engineBackup writes files as one mbstream into a file of dir, as
// mariadb-backup --stream would, and returns its path.
func engineBackup(t *testing.T, dir string, files map[string][]byte) string {
	t.Helper()
	var b bytes.Buffer
	w := mbstream.NewWriter(&b)
	for name, data := range files {
		if err := w.WriteFile(name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "backup.mbs")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// engineFiles is a small dataset: a large file, a small one, an empty one,
// one in a subdirectory.
func engineFiles() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3<<20+123)
	for i := range big {
		big[i] = byte(r.IntN(256))
	}
	return map[string][]byte{
		"ibdata1":                big,
		"db/t1.ibd":              bytes.Repeat([]byte("row "), 40000),
		"db/empty.frm":           nil,
		"xtrabackup_checkpoints": []byte("backup_type = full-backuped\n"),
	}
}

// joinerSide is the flow's part of a receive, as sst plays it: accept
// connections (no gate), answer each v2 hello, offer refDir (if any) as
// reference data for a delta by offer.
type joinerSide struct {
	ln       net.Listener
	versions xfer.Range
	refDir   string
	staging  string
}

func (j joinerSide) accept(ctx context.Context) (Conn, error) {
	conn, err := j.ln.Accept()
	if err != nil {
		return Conn{}, err
	}
	l, err := pipe.Accept(ctx, conn, pipe.Config{})
	if err != nil {
		conn.Close()
		return Conn{}, err
	}
	return Conn{Conn: conn, Link: l, R: bufio.NewReaderSize(l, pipe.RecvBufferSize)}, nil
}

func (j joinerSide) receive(ctx context.Context) (Engine, Received, error) {
	first, err := j.accept(ctx)
	if err != nil {
		return "", Received{}, err
	}
	defer first.Conn.Close()
	if _, err := first.R.Peek(1); err != nil {
		return "", Received{}, err
	}
	e, err := Detect(first.R)
	if err != nil {
		return e, Received{}, err
	}
	started, prepared := false, xfer.Version(99)
	p := RecvParams{First: first, Staging: j.staging, Log: slog.New(slog.DiscardHandler),
		Receiving: func(func() int64) error { return os.MkdirAll(j.staging, 0o755) },
		Started:   func() error { started = true; return nil },
		Prepare:   func(v xfer.Version) (bool, error) { prepared = v; return false, nil },
	}
	if e == V2 {
		if p.Hello, p.Version, _, err = xfer.AnswerAuth(first.RW(), j.versions, ""); err != nil {
			return e, Received{}, err
		}
		p.Accept = func(ctx context.Context) (Conn, xfer.Hello, error) {
			c, err := j.accept(ctx)
			if err != nil {
				return c, xfer.Hello{}, err
			}
			h, _, _, err := xfer.AnswerAuth(c.RW(), j.versions, "")
			return c, h, err
		}
		p.References = func(_ context.Context, links []Conn, _ xfer.Version, _ bool) (*Refs, error) {
			var sources []xfer.Source
			var root *os.Root
			if j.refDir != "" {
				if root, err = os.OpenRoot(j.refDir); err != nil {
					return nil, err
				}
				sources = append(sources, xfer.Source{Prefix: "old", Root: root})
			}
			ctl := links[len(links)-1]
			wire := stream.NewCountingReader(ctl.R)
			answer, err := xfer.AcceptOffers(wire, ctl.Link, sources)
			if err != nil {
				return nil, err
			}
			rec := xfer.NewReconstructor(nil, answer.Seed(), 0)
			if root != nil {
				rec.Mount("old", root)
			}
			return &Refs{Rec: rec, Answer: answer, CtlWire: wire, Close: func() {
				rec.Close()
				if root != nil {
					root.Close()
				}
			}}, nil
		}
	}
	got, err := NewReceiver(e).Receive(ctx, p)
	switch {
	case err != nil:
	case !started:
		err = errors.New("Started was not called")
	case prepared != p.Version:
		err = fmt.Errorf("Prepare got version %d, want %d (0 for the stock stream)", prepared, p.Version)
	}
	return e, got, err
}

// sendBackup runs engine e's sender of the backup script to ln.
func sendBackup(ctx context.Context, t *testing.T, e Engine, ln net.Listener, script string, token string) (Sent, error) {
	return NewSender(e).Send(ctx, SendParams{
		Addr: ln.Addr().String(),
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		},
		Backup:   func(ctx context.Context) (*Backup, error) { return startSh(t, ctx, script, nil), nil },
		Log:      slog.New(slog.DiscardHandler),
		Streams:  2,
		Token:    token,
		Versions: xfer.Supported,
	})
}

// assertTree checks that dir holds exactly files.
func assertTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		want, ok := files[filepath.ToSlash(rel)]
		got, rerr := os.ReadFile(p)
		switch {
		case !ok:
			t.Errorf("%s: not in the backup", rel)
		case rerr != nil || !bytes.Equal(got, want):
			t.Errorf("%s: %d bytes differ from the backup's %d (%v)", rel, len(got), len(want), rerr)
		}
		seen++
		return nil
	})
	if err != nil || seen != len(files) {
		t.Errorf("%d files extracted (%v), want %d", seen, err, len(files))
	}
}

// TestEngines: each engine's sender and receiver, over loopback, move a
// backup into the staging directory byte for byte; a delta by offer
// sends what the reference data has as references, and only that.
func TestEngines(t *testing.T) {
	files := engineFiles()
	for _, tt := range []struct {
		name     string
		engine   Engine
		token    string
		withRefs bool
	}{
		{"stock", Stock, "", false},
		{"v2 full", V2, xfer.Supported.Token(), false},
		{"v2 delta by offer", V2, xfer.Supported.Token(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			mbs := engineBackup(t, dir, files)
			j := joinerSide{versions: xfer.Supported, staging: filepath.Join(dir, "staging")}
			var changed int64
			if tt.withRefs {
				// The previous data: ibdata1 with one byte changed, the
				// rest as in the backup but t1.ibd, which is missing.
				j.refDir = filepath.Join(dir, "old")
				old := bytes.Clone(files["ibdata1"])
				old[1<<20] ^= 0xff
				changed = 16 << 10 // one block
				if err := os.MkdirAll(j.refDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(j.refDir, "ibdata1"), old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			j.ln = ln
			type result struct {
				e   Engine
				got Received
				err error
			}
			joined := make(chan result, 1)
			go func() {
				e, got, err := j.receive(ctx)
				joined <- result{e, got, err}
			}()
			sent, err := sendBackup(ctx, t, tt.engine, ln, "cat "+mbs, tt.token)
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			r := <-joined
			if r.err != nil {
				t.Fatalf("receive: %v", r.err)
			}
			if r.e != tt.engine || sent.V2 != (tt.engine == V2) || r.got.V2 != sent.V2 {
				t.Errorf("engines: sent %v (V2 %v), received %v (V2 %v), want %v", tt.engine, sent.V2, r.e, r.got.V2, tt.engine)
			}
			assertTree(t, j.staging, files)
			st, _ := os.Stat(mbs)
			if sent.Bytes != st.Size() || r.got.Stream != st.Size() {
				t.Errorf("stream bytes: sent %d, received %d, want %d", sent.Bytes, r.got.Stream, st.Size())
			}
			if want := int64(len(files["ibdata1"])) - changed; tt.withRefs && (sent.Refs != r.got.Refs || r.got.Refs < want-(16<<10) || r.got.Refs > want) {
				t.Errorf("references: sent %d, received %d; want about %d (ibdata1 but the changed block)", sent.Refs, r.got.Refs, want)
			}
			if !tt.withRefs && (sent.Refs != 0 || r.got.Refs != 0) {
				t.Errorf("references without reference data: sent %d, received %d", sent.Refs, r.got.Refs)
			}
		})
	}
}

// TestEngineFailures: the backup's own failure is fail.Invalid on the
// donor, and the joiner sees a *StreamError (the staging directory may
// hold part of the data) of class Transfer, for each engine.
func TestEngineFailures(t *testing.T) {
	files := engineFiles()
	for _, tt := range []struct {
		name   string
		engine Engine
		token  string
	}{
		{"stock", Stock, ""},
		{"v2", V2, xfer.Supported.Token()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			mbs := engineBackup(t, dir, files)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			j := joinerSide{ln: ln, versions: xfer.Supported, staging: filepath.Join(dir, "staging")}
			joined := make(chan error, 1)
			go func() {
				_, _, err := j.receive(ctx)
				joined <- err
			}()
			// Half the stream, then mariadb-backup fails.
			_, err = sendBackup(ctx, t, tt.engine, ln, "head -c 2000000 "+mbs+"; exit 3", tt.token)
			var be *BackupError
			if !errors.As(err, &be) || fail.ClassOf(err) != fail.Invalid {
				t.Errorf("send: %v (class %v), want the backup's failure (invalid)", err, fail.ClassOf(err))
			}
			jerr := <-joined
			var se *StreamError
			if !errors.As(jerr, &se) || fail.ClassOf(jerr) != fail.Transfer {
				t.Errorf("receive: %v (class %v), want a *StreamError of class transfer", jerr, fail.ClassOf(jerr))
			}
		})
	}
}
