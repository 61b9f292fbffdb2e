package sst

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/tlsx"
)

// Who may feed the joiner. Anyone who reaches the SST port can connect;
// the joiner admits only the donor and keeps listening through anything
// else (a port scanner, a load balancer's health check, a previous
// donor's late retry, an attacker), within sst-initial-timeout:
//
//   - gtid stage: each connection is read in its own goroutine, at most
//     maxPending at a time (the oldest one that has not spoken yet is
//     dropped to make room); its first bytes must come within
//     firstBytesBound and look like what this transport expects, the
//     whole stage must fit gtidStageMax bytes and gtidStageFiles files
//     and arrive within gtidStageBound, and it is parsed in memory. With
//     a secret (donor-auth, or ssl-mode VERIFY_*), the galera info file
//     must echo it (the stock donor's send_magic does, as ours) before
//     anything is written to disk or the space check runs.
//   - data stage: only connections from the address that passed the gtid
//     stage; a v2 connection must also prove the secret (xfer.AnswerAuth).
//
// A refused connection is closed and logged as a WARNING (the first
// refusalLogs of them one by one, then a count every refusalEvery).
const (
	maxPending      = 64
	firstBytesBound = 5 * time.Second
	gtidStageBound  = 60 * time.Second
	gtidStageMax    = 1 << 20
	gtidStageFiles  = 8
	refusalLogs     = 20
	refusalEvery    = 10 * time.Second
)

// gtidStage is an admitted gtid stage: its files, in memory, and the
// donor's address.
type gtidStage struct {
	files map[string][]byte
	host  string
}

// refusals returns the session's refusal log, made on first use.
func (s *session) refusals() *refusals {
	if s.refused == nil {
		s.refused = &refusals{log: func(m string) { s.log.Warn(m) }}
	}
	return s.refused
}

// refusals logs refused connections without letting a storm of them
// flood the log.
type refusals struct {
	mu      sync.Mutex
	n       int
	skipped int
	last    time.Time
	lastWhy string
	log     func(string)
}

func (r *refusals) add(addr string, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.lastWhy = fmt.Sprintf("the last from %s: %v", addr, why)
	if r.n <= refusalLogs {
		r.log(fmt.Sprintf("Refused a connection to the SST port from %s: %v; still waiting for the donor", addr, why))
		return
	}
	r.skipped++
	if time.Since(r.last) >= refusalEvery {
		r.log(fmt.Sprintf("Refused %d more connections to the SST port (%d in all; last from %s: %v); still waiting for the donor", r.skipped, r.n, addr, why))
		r.skipped, r.last = 0, time.Now()
	}
}

// flush logs the refusals counted since the last summary, if any: at the
// end of an SST, so that the log's count is complete.
func (r *refusals) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.skipped > 0 {
		r.log(fmt.Sprintf("Refused %d more connections to the SST port (%d in all; %s)", r.skipped, r.n, r.lastWhy))
		r.skipped, r.last = 0, time.Now()
	}
}

// wrap adds to err, the failure to admit a donor, how many connections
// were refused and why the last one was: a misconfigured donor (say, a
// certificate this joiner does not trust) is named in the one ERROR.
func (r *refusals) wrap(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return err
	}
	return fmt.Errorf("%w (%d connections to the SST port were refused, %s)", err, r.n, r.lastWhy)
}

// pending bounds the connections being read at once and orders them per
// source address. When it is full, a new connection evicts the oldest one
// that has not sent a byte yet (a silent stray must not lock the donor
// out); if every one has spoken, the new one is closed. Of the
// connections from one address, only the oldest is read as a gtid stage:
// the donor opens its data stage right after its gtid stage, and that
// connection must be handed to the data stage unread, not taken for
// another gtid stage.
type pending struct {
	mu    sync.Mutex
	conns []*pendingConn
	// turn is closed and replaced whenever a connection leaves, so that
	// the ones waiting for their turn look again.
	turn chan struct{}
}

type pendingConn struct {
	net.Conn
	br      *bufio.Reader
	host    string
	spoke   bool
	evicted bool
	read    bool // its bytes past the peeked ones were consumed
}

func (p *pending) add(c net.Conn) (*pendingConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.turn == nil {
		p.turn = make(chan struct{})
	}
	pc := &pendingConn{Conn: c, br: bufio.NewReader(c), host: hostOf(c.RemoteAddr())}
	if len(p.conns) >= maxPending {
		i := -1
		for j, o := range p.conns {
			if !o.spoke && !hasUnread(o.Conn) {
				i = j
				break
			}
		}
		if i < 0 {
			return nil, false
		}
		p.conns[i].evicted = true
		p.conns[i].Close()
		p.leave(i)
	}
	p.conns = append(p.conns, pc)
	return pc, true
}

func (p *pending) spoke(pc *pendingConn) {
	p.mu.Lock()
	pc.spoke = true
	p.mu.Unlock()
}

// leave removes conns[i] and wakes the waiters; p.mu is held.
func (p *pending) leave(i int) {
	p.conns = append(p.conns[:i], p.conns[i+1:]...)
	close(p.turn)
	p.turn = make(chan struct{})
}

// waitTurn returns once pc is the oldest connection of its address, or
// ctx is done (false).
func (p *pending) waitTurn(ctx context.Context, pc *pendingConn) bool {
	for {
		p.mu.Lock()
		first := pc.evicted // evicted: its reads fail at once
		for _, o := range p.conns {
			if first || o == pc {
				first = true
				break
			}
			if o.host == pc.host {
				break
			}
		}
		if first {
			pc.read = true
			p.mu.Unlock()
			return true
		}
		turn := p.turn
		p.mu.Unlock()
		select {
		case <-turn:
		case <-ctx.Done():
			return false
		}
	}
}

func (p *pending) remove(pc *pendingConn) (evicted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, o := range p.conns {
		if o == pc {
			p.leave(i)
			break
		}
	}
	return pc.evicted
}

// unread returns, oldest first, the connections still pending that were
// never read past their first bytes, and forgets them: once the gtid
// stage is admitted, the donor's data connection may be among them.
func (p *pending) unread() []*pendingConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*pendingConn
	for _, o := range p.conns {
		if !o.read && !o.evicted {
			out = append(out, o)
		}
	}
	p.conns = nil
	return out
}

// errEvicted is a stray dropped to make room for newer connections.
var errEvicted = errors.New("dropped: too many connections waiting, and it had sent nothing")

// errHandedOver ends the reading of a connection kept for the data stage.
var errHandedOver = errors.New("kept for the data stage")

// acceptGTID admits the donor's gtid stage (see the comment at the top of
// this file). ctx carries sst-initial-timeout; its cause is the error
// when no donor is admitted in time. Connections accepted meanwhile and
// not read yet are kept for the data stage (s.handover).
func (s *session) acceptGTID(ctx context.Context, ln *stream.Listener) (*gtidStage, error) {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		stage *gtidStage
		addr  string
		err   error
	}
	results := make(chan result)
	acceptErr := make(chan error, 1)
	var wg sync.WaitGroup
	var p pending
	// stopAll ends every goroutine: the unread connections stay open and
	// go to the data stage; everything else is closed.
	stopAll := func() {
		cancel()
		wg.Wait()
		s.handover = append(s.handover, p.unread()...)
	}
	wg.Go(func() {
		for {
			conn, err := ln.AcceptKeep(ctx)
			if err != nil {
				acceptErr <- err
				return
			}
			pc, ok := p.add(conn)
			if ok && ctx.Err() != nil {
				return // arrived as the stage was admitted: unread, handed over
			}
			if !ok {
				conn.Close()
				select {
				case results <- result{addr: conn.RemoteAddr().String(), err: errors.New("dropped: too many connections sending at once")}:
				case <-ctx.Done():
					return
				}
				continue
			}
			wg.Go(func() {
				st, err := s.readGTID(ctx, pc, &p)
				if errors.Is(err, errHandedOver) {
					return
				}
				// An admitted stage stays in the list until stopAll, so
				// that the donor's next connection never gets its turn
				// to be read as another gtid stage.
				if err != nil && p.remove(pc) {
					err = errEvicted
				}
				select {
				case results <- result{stage: st, addr: pc.RemoteAddr().String(), err: err}:
				case <-ctx.Done():
				}
			})
		}
	})
	refused := s.refusals()
	for {
		select {
		case r := <-results:
			if r.err == nil {
				stopAll()
				return r.stage, nil
			}
			refused.add(r.addr, r.err)
		case err := <-acceptErr:
			stopAll()
			for _, pc := range s.handover {
				pc.Close()
			}
			s.handover = nil
			return nil, refused.wrap(failure(ctx, fail.Transfer, "accept the donor's gtid stage", err))
		}
	}
}

// readGTID reads one connection's gtid stage in memory and checks it. It
// peeks at the first bytes at once, then waits for its turn (the oldest
// connection of its address); cancelled before its turn, it leaves the
// connection open and unread (errHandedOver).
func (s *session) readGTID(ctx context.Context, pc *pendingConn, p *pending) (*gtidStage, error) {
	conn := pc.Conn
	// Cancellation interrupts the reads without closing: a connection
	// still unread is kept for the data stage.
	woken := make(chan struct{})
	stopWake := context.AfterFunc(ctx, func() {
		defer close(woken)
		_ = conn.SetReadDeadline(aLongTimeAgo)
	})
	defer stopWake()
	_ = conn.SetReadDeadline(time.Now().Add(firstBytesBound))
	first, err := pc.br.Peek(1)
	if ctx.Err() != nil || !p.waitTurn(ctx, pc) {
		if !stopWake() {
			<-woken // its deadline set before ours is cleared
		}
		_ = conn.SetReadDeadline(time.Time{})
		return nil, errHandedOver
	}
	defer conn.Close()
	if err != nil || len(first) == 0 {
		return nil, fmt.Errorf("sent nothing within %v (%w)", firstBytesBound, netErr(err))
	}
	p.spoke(pc)
	if err := s.knownStart(pc.br); err != nil {
		return nil, err
	}
	stop := stream.CloseOnCancel(ctx, conn)
	defer stop()
	_ = conn.SetReadDeadline(time.Now().Add(gtidStageBound))
	rs, err := pipe.OpenRecv(ctx, &peekedConn{Conn: conn, r: pc.br}, s.tr.pipeConfig("donor", nil, false))
	if err != nil {
		return nil, fmt.Errorf("no usable stream: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(rs, gtidStageMax+1))
	if cerr := rs.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read its stream: %w", netErr(err))
	}
	if len(data) > gtidStageMax {
		return nil, fmt.Errorf("sent more than %d bytes for a gtid stage of a few lines", gtidStageMax)
	}
	files, err := parseGTIDStage(data)
	if err != nil {
		return nil, err
	}
	info, ok := files[infoFile]
	if !ok {
		info, ok = files[infoFile11]
	}
	if !ok {
		return nil, fmt.Errorf("its stream has no galera info file (%s)", infoFile)
	}
	if s.tr.mySecret != "" {
		got, found := tagIn(info, "secret")
		switch {
		case !found:
			return nil, errors.New("its gtid stage does not carry this joiner's secret (not the donor this node asked for)")
		case !tlsx.SecretEqual(got, s.tr.mySecret):
			//nolint:staticcheck // recv_joiner's words, which log scrapers look for
			return nil, errors.New("Donor does not know my secret! (the gtid stage carries another secret: not the donor this node asked for)")
		}
	}
	return &gtidStage{files: files, host: pc.host}, nil
}

// aLongTimeAgo is a deadline in the past: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// knownStart checks that the first bytes are what this transport
// expects: a TLS handshake record, openssl enc's "Salted__", an mbstream
// chunk; with a decompressor the compressed stream may be anything a
// filter program reads, so only in-process formats are checked then.
func (s *session) knownStart(br *bufio.Reader) error {
	var want []byte
	what := ""
	switch {
	case s.tr.tlsConfig != nil:
		want, what = []byte{0x16, 0x03}, "a TLS handshake"
	case s.tr.cipher != "":
		want, what = []byte("Salted__"), "an openssl enc stream (encrypt=1)"
	case s.tr.codec != nil:
		return nil
	default:
		want, what = []byte(mbstream.Magic), "an mbstream"
	}
	b, err := br.Peek(len(want))
	if err != nil && !bytes.HasPrefix(want, b) {
		return fmt.Errorf("its first bytes %q are not %s", b, what)
	}
	if err != nil {
		return fmt.Errorf("sent %d bytes and then nothing within %v", len(b), firstBytesBound)
	}
	if !bytes.Equal(b, want) {
		return fmt.Errorf("its first bytes %q are not %s", b, what)
	}
	return nil
}

// parseGTIDStage reads the files of a gtid stage's mbstream: plain file
// names (no directories), at most gtidStageFiles of them, no sparse
// chunks. The reader checks every chunk's CRC.
func parseGTIDStage(data []byte) (map[string][]byte, error) {
	files := map[string][]byte{}
	r := mbstream.NewReaderOptions(bytes.NewReader(data), mbstream.ReaderOptions{MaxPayload: gtidStageMax})
	for {
		c, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("its gtid stage is not a valid mbstream: %w", err)
		}
		if c.Path == "" || c.Path != path.Base(c.Path) || c.Path == "." || c.Path == ".." || strings.ContainsAny(c.Path, "\\\x00") {
			return nil, fmt.Errorf("its gtid stage holds the path %q, not a file name", c.Path)
		}
		if _, ok := files[c.Path]; !ok && len(files) == gtidStageFiles {
			return nil, fmt.Errorf("its gtid stage holds more than %d files", gtidStageFiles)
		}
		switch c.Type {
		case mbstream.ChunkEOF:
			files[c.Path] = files[c.Path][:len(files[c.Path]):len(files[c.Path])]
			continue
		case mbstream.ChunkPayload:
		default:
			return nil, fmt.Errorf("its gtid stage holds a chunk of type %q for %q", string(rune(c.Type)), c.Path)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("its gtid stage is not a valid mbstream: %w", err)
		}
		files[c.Path] = append(files[c.Path], b...)
	}
	if len(files) == 0 {
		return nil, errors.New("its gtid stage is empty")
	}
	return files, nil
}

// tagIn returns the value of the first "<tag> <value>" line of content
// (a galera info file), trimmed.
func tagIn(content []byte, tag string) (string, bool) {
	for l := range strings.SplitSeq(string(content), "\n") {
		if rest, ok := strings.CutPrefix(l, tag); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// peekedConn is a connection whose first bytes sit in r.
type peekedConn struct {
	net.Conn
	r io.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// netErr shortens a deadline error for the refusal log.
func netErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("timed out")
	}
	if err == nil {
		return io.EOF
	}
	return err
}

// acceptFromDonor accepts the next connection of a data stage from the
// address that passed the gtid stage, within sst-idle-timeout; others are
// refused and logged.
func (s *session) acceptFromDonor(ctx context.Context, ln *stream.Listener, stage string) (net.Conn, error) {
	refused := s.refusals()
	for {
		var conn net.Conn
		var err error
		if len(s.handover) > 0 {
			// Accepted while the gtid stage was being read; only peeked.
			pc := s.handover[0]
			s.handover = s.handover[1:]
			// The peeked bytes, then the connection: not pc.br, which
			// may hold the error of the read its cancellation woke.
			buf, _ := pc.br.Peek(pc.br.Buffered())
			conn = &peekedConn{Conn: pc.Conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(buf)), pc.Conn)}
		} else {
			conn, err = s.acceptStage(ctx, ln, stage)
		}
		if err != nil {
			return nil, refused.wrap(err)
		}
		if s.donorHost == "" || hostOf(conn.RemoteAddr()) == s.donorHost {
			return conn, nil
		}
		refused.add(conn.RemoteAddr().String(), fmt.Errorf("not the donor's address (%s passed the gtid stage)", s.donorHost))
		conn.Close()
	}
}
