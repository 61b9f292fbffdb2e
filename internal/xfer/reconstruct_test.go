package xfer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"wsrep_sst_mariabackup/internal/xfer/manifest"
)

const testBlock = manifest.MinBlockSize

func randData(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func refTo(t *testing.T, seed uint64, path string, data []byte, off int64, n int) Ref {
	t.Helper()
	p := data[off : off+int64(n)]
	return Ref{Path: path, Offset: off, Length: n, Hash: Hash(manifest.Sum(seed, p)), CRC: crc32.ChecksumIEEE(p)}
}

func TestReconstructorRead(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	data := randData(rng, 3000)
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "db", "t.ibd"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "db", "link.ibd")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	const seed = 9
	rec := NewReconstructor(root, seed, 2048)
	defer rec.Close()

	good := refTo(t, seed, "db/t.ibd", data, 100, 1000)
	got, err := rec.Read(good, nil)
	if err != nil || !bytes.Equal(got, data[100:1100]) {
		t.Fatalf("Read(good) = %d bytes, %v", len(got), err)
	}
	mod := func(f func(*Ref)) Ref { r := good; f(&r); return r }
	tests := []struct {
		name string
		ref  Ref
		want error
	}{
		{"dotdot", mod(func(r *Ref) { r.Path = "../secret" }), ErrRefPath},
		{"absolute", mod(func(r *Ref) { r.Path = filepath.Join(outside, "secret") }), ErrRefPath},
		{"symlink out", mod(func(r *Ref) { r.Path = "db/link.ibd" }), ErrRefPath},
		{"missing", mod(func(r *Ref) { r.Path = "db/none.ibd" }), ErrRefPath},
		{"directory", mod(func(r *Ref) { r.Path = "db" }), ErrRefPath},
		{"past EOF", refTo(t, seed, "db/t.ibd", append(bytes.Clone(data), make([]byte, 1000)...), 2500, 1000), ErrRefRange},
		{"offset past EOF", mod(func(r *Ref) { r.Offset = 1 << 40 }), ErrRefRange},
		{"negative offset", mod(func(r *Ref) { r.Offset = -1 }), ErrRefRange},
		{"huge length", mod(func(r *Ref) { r.Length = 1 << 30 }), ErrTooLarge},
		{"over limit", mod(func(r *Ref) { r.Length = 2049 }), ErrTooLarge},
		{"zero length", mod(func(r *Ref) { r.Length = 0 }), ErrFrame},
		{"hash", mod(func(r *Ref) { r.Hash[0] ^= 1 }), ErrRefMismatch},
		{"crc", mod(func(r *Ref) { r.CRC ^= 1 }), ErrRefMismatch},
		{"other bytes", mod(func(r *Ref) { r.Offset++ }), ErrRefMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := rec.Read(tt.ref, nil); !errors.Is(err, tt.want) {
				t.Errorf("Read = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReconstructionProperty: random reference files on the joiner,
// random edits on the donor's copies, random mbstream-like chunking, sent
// over random parallel streams with references where the manifest has the
// block: the reassembled byte stream equals the original one.
func TestReconstructionProperty(t *testing.T) {
	var totalRef int64
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 77))
		refDir := t.TempDir()
		names := []string{"ibdata1", "db/t1.ibd", "db/t2.ibd", "undo001", "aria_log.00000001"}
		donor := map[string][]byte{}
		for _, n := range names {
			data := randData(rng, rng.IntN(5*testBlock))
			if rng.IntN(3) == 0 {
				// Zero runs: many blocks with one hash.
				clear(data[:min(len(data), 2*testBlock)])
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(refDir, n)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(refDir, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
			donor[n] = edit(rng, data)
			if n == "aria_log.00000001" {
				donor[n] = data // unchanged
			}
		}
		donor["db/new.ibd"] = randData(rng, rng.IntN(2*testBlock))

		m, err := manifest.Build(t.Context(), refDir, manifest.BuildOptions{BlockSize: testBlock})
		if err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(refDir)
		if err != nil {
			t.Fatal(err)
		}
		n := 1 + rng.IntN(4)
		rs, ws, closeAll := pipes(t, n, seed, 0)
		s := NewSender(t.Context(), ws, SenderOptions{FrameSize: 1 + rng.IntN(3*testBlock)})

		// The donor's stream: per chunk a fake header as data, then the
		// payload through SendPayload; files interleave.
		var want bytes.Buffer
		sendErr := make(chan error, 1)
		var refBytes int64
		chunks := func() error {
			err := sendChunks(rng, donor, 3*testBlock, &want, s.Data, func(_ string, off int, b []byte) error {
				if len(b) == 0 {
					return nil
				}
				rb, err := SendPayload(s, m, int64(off), b)
				if err != nil {
					return err
				}
				refBytes += rb
				return nil
			})
			if err != nil {
				return err
			}
			return s.Close()
		}
		go func() { sendErr <- chunks() }()

		rc := NewReceiver(t.Context(), rs, ReceiverOptions{})
		rec := NewReconstructor(root, m.Seed(), 0)
		var got bytes.Buffer
		st, err := Assemble(t.Context(), &got, rc, rec)
		if err != nil {
			t.Fatalf("seed %d: Assemble: %v", seed, err)
		}
		if err := <-sendErr; err != nil {
			t.Fatalf("seed %d: send: %v", seed, err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		closeAll()
		rc.Wait()
		rec.Close()
		root.Close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("seed %d: reassembled %d bytes differ from the %d of the stream", seed, got.Len(), want.Len())
		}
		if st.RefBytes != refBytes || st.RefBytes+st.Data != int64(want.Len()) {
			t.Errorf("seed %d: stats %+v, sender referenced %d of %d bytes", seed, st, refBytes, want.Len())
		}
		totalRef += refBytes
		t.Logf("seed %d: %d streams, %d of %d bytes by reference", seed, n, refBytes, want.Len())
	}
	if totalRef == 0 {
		t.Error("nothing was ever sent as a reference")
	}
}

// sendChunks sends the files of donor as a donor's mbstream would come:
// in chunks of 1 to spread bytes, the files interleaved at random, each
// chunk a fake header ("CHUNK <name>" and the offset) through data, then
// its bytes through payload. want gets both, in order.
func sendChunks(rng *rand.Rand, donor map[string][]byte, spread int, want *bytes.Buffer, data func([]byte) error, payload func(name string, off int, b []byte) error) error {
	type pos struct {
		name string
		off  int
	}
	var order []pos
	for name := range donor {
		order = append(order, pos{name, 0})
	}
	for len(order) > 0 {
		k := rng.IntN(len(order))
		p := &order[k]
		b := donor[p.name]
		end := min(len(b), p.off+1+rng.IntN(spread))
		hdr := binary.BigEndian.AppendUint64([]byte("CHUNK "+p.name), uint64(p.off))
		want.Write(hdr)
		if err := data(hdr); err != nil {
			return err
		}
		want.Write(b[p.off:end])
		if err := payload(p.name, p.off, b[p.off:end]); err != nil {
			return err
		}
		p.off = end
		if p.off == len(b) {
			order = append(order[:k], order[k+1:]...)
		}
	}
	return nil
}

// edit changes a copy of data at random: overwrites, a truncation or an
// append, so that some blocks still match and others do not.
func edit(rng *rand.Rand, data []byte) []byte {
	d := bytes.Clone(data)
	for range rng.IntN(4) {
		if len(d) == 0 {
			break
		}
		at := rng.IntN(len(d))
		n := min(len(d)-at, 1+rng.IntN(100))
		for i := range n {
			d[at+i] ^= byte(1 + rng.IntN(255))
		}
	}
	switch rng.IntN(4) {
	case 0:
		d = d[:rng.IntN(len(d)+1)]
	case 1:
		d = append(d, randData(rng, rng.IntN(testBlock))...)
	}
	return d
}

func TestAssembleWithoutReferenceData(t *testing.T) {
	stream := writeItems(t, []item{{typ: FrameRef, seq: 0, ref: Ref{Path: "a", Length: 1}}, {typ: FrameEnd, seq: 1}})
	rc := NewReceiver(t.Context(), []io.Reader{bytes.NewReader(stream)}, ReceiverOptions{})
	if _, err := Assemble(t.Context(), io.Discard, rc, nil); !errors.Is(err, ErrRefPath) {
		t.Errorf("Assemble = %v, want ErrRefPath", err)
	}
	rc.Close()
	rc.Wait()
}

func TestMergedSources(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	old, staging := t.TempDir(), t.TempDir()
	a := randData(rng, 2*testBlock)
	b := randData(rng, testBlock+10)
	if err := os.WriteFile(filepath.Join(old, "t.ibd"), a, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staging, "t.ibd"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	const seed = 77
	build := func(dir, prefix string, seed uint64) *manifest.Manifest {
		m, err := manifest.Build(t.Context(), dir, manifest.BuildOptions{BlockSize: testBlock, Seed: seed, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m, err := manifest.Merge(build(old, "old", seed), build(staging, "staging", seed))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Merge(build(old, "old", seed), build(staging, "staging", seed+1)); err == nil {
		t.Error("Merge of manifests with different seeds succeeded")
	}
	if _, err := manifest.Merge(build(old, "old", seed), build(staging, "old", seed)); err == nil {
		t.Error("Merge of manifests with the same paths succeeded")
	}
	oldRoot, err := os.OpenRoot(old)
	if err != nil {
		t.Fatal(err)
	}
	defer oldRoot.Close()
	stRoot, err := os.OpenRoot(staging)
	if err != nil {
		t.Fatal(err)
	}
	defer stRoot.Close()
	rec := NewReconstructor(nil, m.Seed(), 0)
	rec.Mount("old", oldRoot)
	rec.Mount("staging", stRoot)
	defer rec.Close()
	for _, want := range [][]byte{a[testBlock:], b[testBlock:], b[:testBlock]} {
		blk, ok := m.Lookup(m.Sum(want), len(want))
		if !ok {
			t.Fatalf("block of %d bytes not in the merged manifest", len(want))
		}
		got, err := rec.Read(Ref{Path: blk.Path, Offset: blk.Offset, Length: blk.Length, Hash: Hash(blk.Hash), CRC: crc32.ChecksumIEEE(want)}, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Read of %s at %d: %v", blk.Path, blk.Offset, err)
		}
	}
	if _, err := rec.Read(Ref{Path: "t.ibd", Length: 1}, nil); !errors.Is(err, ErrRefPath) {
		t.Errorf("path outside every mount: %v, want ErrRefPath", err)
	}
}

// Consecutive matching blocks of one file go as one reference of up to
// MaxRefRun bytes; a changed block in the middle splits the run.
func TestSendPayloadRuns(t *testing.T) {
	refDir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	data := randData(rng, 3*MaxRefRun+5*testBlock)
	if err := os.WriteFile(filepath.Join(refDir, "t.ibd"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Build(t.Context(), refDir, manifest.BuildOptions{BlockSize: testBlock})
	if err != nil {
		t.Fatal(err)
	}
	donor := bytes.Clone(data)
	donor[MaxRefRun+testBlock/2] ^= 1 // one changed block in the second MiB
	var frames bytes.Buffer
	s := NewSender(t.Context(), []io.Writer{&frames}, SenderOptions{})
	refBytes, err := SendPayload(s, m, 0, donor)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if want := int64(len(donor) - testBlock); refBytes != want {
		t.Errorf("referenced %d bytes, want %d", refBytes, want)
	}
	r := NewReader(&frames, ReaderOptions{})
	var refs, datas []int
	for {
		f, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == FrameEnd {
			break
		}
		if f.Type == FrameRef {
			refs = append(refs, f.Ref.Length)
		} else {
			datas = append(datas, f.Len)
		}
	}
	// [0, 1 MiB) one run; the changed block as data; then runs of at
	// most MaxRefRun to the end.
	wantRefs := []int{MaxRefRun, MaxRefRun, MaxRefRun, 4 * testBlock}
	if !slices.Equal(refs, wantRefs) || len(datas) != 1 {
		t.Errorf("references %v and %d data frames, want %v and 1", refs, len(datas), wantRefs)
	}
}
