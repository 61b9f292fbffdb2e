package xfer

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// deltaRun is one transfer by offer: the donor's stream (headers as data,
// payloads offered) against sources on the joiner.
type deltaRun struct {
	want     bytes.Buffer
	stats    DeltaStats
	answered AnswerStats
	got      []byte
	asm      Stats
}

// writeTree writes files under dir.
func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for n, data := range files {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runDelta sends donor's files, interleaved in random chunks, by offer
// to a joiner whose sources are dirs (prefix "s<i>"), over n streams, and
// reassembles the stream on the joiner.
func runDelta(t *testing.T, rng *rand.Rand, donor map[string][]byte, dirs []string, window int64) *deltaRun {
	t.Helper()
	return runDeltaInclude(t, rng, donor, dirs, window, nil)
}

// runDeltaInclude is runDelta with every source's Include.
func runDeltaInclude(t *testing.T, rng *rand.Rand, donor map[string][]byte, dirs []string, window int64, include func(string) bool) *deltaRun {
	t.Helper()
	var sources []Source
	rec := NewReconstructor(nil, 0, 0)
	for i, d := range dirs {
		root, err := os.OpenRoot(d)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { root.Close() })
		p := "s" + string(rune('0'+i))
		sources = append(sources, Source{Prefix: p, Root: root, Include: include})
		rec.Mount(p, root)
	}
	seed := rng.Uint64()
	rec.seed = seed
	n := 1 + rng.IntN(3)
	rs, ws, closeAll := pipes(t, n, seed, 0)
	s := NewSender(t.Context(), ws, SenderOptions{FrameSize: 1 + rng.IntN(3*DeltaBlock)})
	// The control stream: donor -> joiner and joiner -> donor.
	dr, jw := io.Pipe()
	jr, dw := io.Pipe()
	t.Cleanup(func() { dr.Close(); jr.Close() })

	run := &deltaRun{}
	ansErr := make(chan error, 1)
	go func() {
		st, err := AnswerOffers(t.Context(), jr, jw, sources)
		run.answered = st
		jw.Close()
		ansErr <- err
	}()
	sendErr := make(chan error, 1)
	go func() {
		o, err := NewOfferer(t.Context(), s, dr, dw, OffererOptions{Seed: seed, Window: window})
		if err != nil {
			sendErr <- err
			return
		}
		err = sendChunks(rng, donor, 3*MaxOfferLen/2, &run.want, o.Data, func(name string, off int, b []byte) error {
			return o.Payload(name, int64(off), b)
		})
		if err != nil {
			sendErr <- err
			return
		}
		st, err := o.Close()
		run.stats = st
		dw.Close()
		if err == nil {
			err = s.Close()
		}
		sendErr <- err
	}()

	rc := NewReceiver(t.Context(), rs, ReceiverOptions{})
	var got bytes.Buffer
	asm, err := Assemble(t.Context(), &got, rc, rec)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := <-ansErr; err != nil {
		t.Fatalf("answer: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	closeAll()
	rc.Wait()
	rec.Close()
	run.got, run.asm = got.Bytes(), asm
	return run
}

// TestDeltaByOfferProperty: random old files in two sources (an
// interrupted attempt's and the old datadir), random edits, random
// chunking and windows: the joiner always rebuilds the donor's exact
// stream, and every block a source had at the same place is reused.
func TestDeltaByOfferProperty(t *testing.T) {
	var reused int64
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 19))
		old, resume := t.TempDir(), t.TempDir()
		names := []string{"ibdata1", "db/t1.ibd", "db/t2.ibd", "undo001", "aria_log.00000001"}
		donor, oldFiles, resumeFiles := map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
		for _, n := range names {
			data := randData(rng, rng.IntN(2*MaxOfferLen+DeltaBlock))
			if rng.IntN(3) == 0 {
				clear(data[:min(len(data), 2*DeltaBlock)])
			}
			oldFiles[n] = data
			donor[n] = edit(rng, data)
			if rng.IntN(2) == 0 {
				// The interrupted attempt got part of the new file.
				resumeFiles[n] = donor[n][:rng.IntN(len(donor[n])+1)]
			}
		}
		donor["db/new.ibd"] = randData(rng, rng.IntN(2*DeltaBlock))
		writeTree(t, old, oldFiles)
		writeTree(t, resume, resumeFiles)

		window := int64(rng.IntN(3 * MaxOfferLen))
		r := runDelta(t, rng, donor, []string{resume, old}, window)
		if !bytes.Equal(r.got, r.want.Bytes()) {
			t.Fatalf("seed %d: reassembled %d bytes differ from the %d of the stream", seed, len(r.got), r.want.Len())
		}
		if r.asm.RefBytes != r.stats.Reused || r.answered.Have != r.stats.Reused {
			t.Errorf("seed %d: joiner rebuilt %d bytes from references, answered %d present, donor referenced %d",
				seed, r.asm.RefBytes, r.answered.Have, r.stats.Reused)
		}
		// What the sources had in place, block by block, must be reused:
		// the old file's unchanged blocks at least.
		var same int64
		for n, d := range donor {
			o := oldFiles[n]
			blockSpans(0, len(d), func(_, start, end int) {
				if end <= len(o) && bytes.Equal(d[start:end], o[start:end]) {
					same += int64(end - start)
				}
			})
		}
		if r.stats.Reused < same {
			t.Errorf("seed %d: reused %d bytes, but the old files alone had %d in place", seed, r.stats.Reused, same)
		}
		reused += r.stats.Reused
		t.Logf("seed %d: window %d, %d of %d payload bytes reused", seed, window, r.stats.Reused, r.stats.Offered)
	}
	if reused == 0 {
		t.Error("nothing was ever reused")
	}
}

// TestDeltaByOfferNoSources: a joiner with nothing (a full SST) answers
// "send it" to everything; the stream is rebuilt from data alone.
func TestDeltaByOfferNoSources(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	donor := map[string][]byte{"ibdata1": randData(rng, MaxOfferLen+5), "db/t.ibd": randData(rng, 3*DeltaBlock)}
	r := runDelta(t, rng, donor, nil, 0)
	if !bytes.Equal(r.got, r.want.Bytes()) || r.stats.Reused != 0 {
		t.Fatalf("rebuilt %d of %d bytes, %d reused", len(r.got), r.want.Len(), r.stats.Reused)
	}
}

// TestDeltaByOfferInclude: a path a source's Include refuses is not
// compared there, and goes as data though the source has it.
func TestDeltaByOfferInclude(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	donor := map[string][]byte{"ibdata1": randData(rng, 2*DeltaBlock), "db/t.ibd": randData(rng, 3*DeltaBlock)}
	old := t.TempDir()
	writeTree(t, old, donor)
	r := runDeltaInclude(t, rng, donor, []string{old}, 0, func(p string) bool { return p != "db/t.ibd" })
	if !bytes.Equal(r.got, r.want.Bytes()) {
		t.Fatalf("rebuilt stream differs")
	}
	if want := int64(2 * DeltaBlock); r.stats.Reused != want || r.answered.Read != want {
		t.Errorf("reused %d, read %d; want %d each (ibdata1 only)", r.stats.Reused, r.answered.Read, want)
	}
}

// TestDeltaByOfferChangedSource: a source file that changes between the
// answer and the rebuild fails the transfer (the reference's hash), never
// yields other bytes.
func TestDeltaByOfferChangedSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	old := t.TempDir()
	data := randData(rng, 4*DeltaBlock)
	writeTree(t, old, map[string][]byte{"ibdata1": data})
	root, err := os.OpenRoot(old)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	seed := uint64(42)
	dr, jw := io.Pipe()
	jr, dw := io.Pipe()
	ansErr := make(chan error, 1)
	go func() {
		_, err := AnswerOffers(t.Context(), jr, jw, []Source{{Prefix: "old", Root: root}})
		jw.Close()
		ansErr <- err
	}()
	rs, ws, closeAll := pipes(t, 1, 1, 0)
	defer closeAll()
	s := NewSender(t.Context(), ws, SenderOptions{})
	o, err := NewOfferer(t.Context(), s, dr, dw, OffererOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	sendErr := make(chan error, 1)
	go func() {
		err := o.Payload("ibdata1", 0, data)
		if err == nil {
			_, err = o.Close()
		}
		dw.Close()
		if err == nil {
			err = s.Close()
		}
		sendErr <- err
	}()
	rc := NewReceiver(t.Context(), rs, ReceiverOptions{})
	defer rc.Close()
	// Before rebuilding, the file changes under the joiner.
	f, _, err := rc.Next()
	if err != nil || f.Type != FrameRef {
		t.Fatalf("first frame %v, %v; want a reference", f, err)
	}
	if err := os.WriteFile(filepath.Join(old, "ibdata1"), randData(rng, len(data)), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := NewReconstructor(nil, seed, 0)
	rec.Mount("old", root)
	defer rec.Close()
	if _, err := rec.Read(f.Ref, nil); !errors.Is(err, ErrRefMismatch) {
		t.Fatalf("reading a changed source: %v, want ErrRefMismatch", err)
	}
	if err := <-ansErr; err != nil {
		t.Fatal(err)
	}
}

// FuzzControl feeds arbitrary bytes to the joiner's and the donor's
// control readers: every message is refused with an error or decoded
// within its limits, never a panic or an allocation past maxControlBody.
func FuzzControl(f *testing.F) {
	var seedMsgs bytes.Buffer
	c := newControl(nil, &seedMsgs)
	_ = c.send(ctlStart, encodeStart(7))
	hb, _ := encodeHave([]string{"resume", "old"})
	_ = c.send(ctlHave, hb)
	of := &offer{id: 0, path: "db/t1.ibd", off: DeltaBlock - 10, length: 30, hashes: make([]Hash, 2)}
	_ = c.send(ctlOffer, encodeOffer(nil, of))
	_ = c.send(ctlAnswer, encodeAnswer(nil, 0, []byte{0, 2}))
	_ = c.send(ctlEnd, nil)
	_ = c.flush()
	f.Add(seedMsgs.Bytes())
	f.Add([]byte("O\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newControl(bytes.NewReader(b), nil)
		for {
			typ, body, err := c.recv()
			if err != nil {
				if !errors.Is(err, ErrControl) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("recv: unexpected error %v", err)
				}
				return
			}
			switch typ {
			case ctlStart:
				_, _ = decodeStart(body)
			case ctlHave:
				if ps, err := decodeHave(body); err == nil && len(ps) > maxSources {
					t.Fatalf("%d sources decoded", len(ps))
				}
			case ctlOffer:
				var o offer
				if err := decodeOffer(body, &o); err == nil {
					if o.length <= 0 || o.length > MaxOfferLen || len(o.hashes) != blocksOf(o.off, o.length) || !validRefPath(o.path) {
						t.Fatalf("decoded offer out of bounds: %+v", o)
					}
				}
			case ctlAnswer:
				if have, err := decodeAnswer(body, 0, 2, 2); err == nil && len(have) != 2 {
					t.Fatalf("answer of %d blocks accepted for 2", len(have))
				}
			}
		}
	})
}

// FuzzAnswerer feeds the joiner's side of delta by offer arbitrary
// control streams: it must end with an error or the end message, never
// panic, and answer only within its sources.
func FuzzAnswerer(f *testing.F) {
	dir := f.TempDir()
	writeTree(f, dir, map[string][]byte{"db/t1.ibd": bytes.Repeat([]byte("page"), DeltaBlock)})
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	var seedMsgs bytes.Buffer
	c := newControl(nil, &seedMsgs)
	_ = c.send(ctlStart, encodeStart(7))
	of := &offer{id: 0, path: "db/t1.ibd", off: DeltaBlock - 10, length: 30, hashes: make([]Hash, 2)}
	_ = c.send(ctlOffer, encodeOffer(nil, of))
	of = &offer{id: 1, path: "../x", off: 0, length: 5, hashes: make([]Hash, 1)}
	_ = c.send(ctlOffer, encodeOffer(nil, of))
	_ = c.send(ctlEnd, nil)
	_ = c.flush()
	f.Add(seedMsgs.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sources := []Source{{Prefix: "old", Root: root, Include: func(p string) bool { return p != "db/secret" }}}
		var answers bytes.Buffer
		a, err := AcceptOffers(bytes.NewReader(b), &answers, sources)
		if err != nil {
			return
		}
		st, err := a.Run(t.Context())
		if err == nil && st.Have > st.Offered {
			t.Fatalf("answered %d bytes present of %d offered", st.Have, st.Offered)
		}
	})
}
