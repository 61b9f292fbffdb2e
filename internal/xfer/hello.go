package xfer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HelloMagic starts the v2 data stage on every connection, before any
// compression: a joiner peeks at it to tell a v2 stream from a stock one
// (which starts with mbstream's "XBSTCK01" or a compressor's magic).
const HelloMagic = "XFERHLO\x00"

// HelloLen is the size of a hello on the wire.
const HelloLen = len(HelloMagic) + 8

// MaxStreams is the most parallel connections a hello may announce.
const MaxStreams = 64

// Hello is the message each side sends first on every connection of the
// v2 data stage. The donor sends its hello, the joiner answers with its
// own, and both continue with the version Negotiate picks from the two
// ranges. The layout is fixed forever so that any version can read it:
//
//	offset size field
//	0      8    magic "XFERHLO\0"
//	8      2    min version, big-endian
//	10     2    max version
//	12     2    stream: index of this connection, 0 <= stream < streams
//	14     2    streams: number of connections of the transfer, 1..MaxStreams
//
// The joiner's answer repeats stream and streams.
type Hello struct {
	Versions Range
	Stream   int
	Streams  int
}

// Errors of the hello exchange.
var (
	// ErrNotHello means the first bytes are not a hello: the peer speaks
	// the stock protocol (or something else entirely).
	ErrNotHello = errors.New("xfer: no v2 hello")
	// ErrBadHello means a hello with our magic has impossible fields.
	ErrBadHello = errors.New("xfer: malformed hello")
	// ErrNoVersion means the two sides share no version.
	ErrNoVersion = errors.New("xfer: no common protocol version")
)

// MarshalBinary encodes h.
func (h Hello) MarshalBinary() ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	b := make([]byte, HelloLen)
	copy(b, HelloMagic)
	binary.BigEndian.PutUint16(b[8:], uint16(h.Versions.Min))
	binary.BigEndian.PutUint16(b[10:], uint16(h.Versions.Max))
	binary.BigEndian.PutUint16(b[12:], uint16(h.Stream))
	binary.BigEndian.PutUint16(b[14:], uint16(h.Streams))
	return b, nil
}

// UnmarshalBinary decodes a hello of exactly HelloLen bytes. It returns an
// error wrapping ErrNotHello if the magic differs, ErrBadHello if a field
// is out of range.
func (h *Hello) UnmarshalBinary(b []byte) error {
	if len(b) != HelloLen || !bytes.Equal(b[:len(HelloMagic)], []byte(HelloMagic)) {
		return fmt.Errorf("%w: first bytes %q", ErrNotHello, b[:min(len(b), len(HelloMagic))])
	}
	x := Hello{
		Versions: Range{
			Min: Version(binary.BigEndian.Uint16(b[8:])),
			Max: Version(binary.BigEndian.Uint16(b[10:])),
		},
		Stream:  int(binary.BigEndian.Uint16(b[12:])),
		Streams: int(binary.BigEndian.Uint16(b[14:])),
	}
	if err := x.check(); err != nil {
		return err
	}
	*h = x
	return nil
}

func (h Hello) check() error {
	switch {
	case h.Versions.Min == 0 || h.Versions.Min > h.Versions.Max:
		return fmt.Errorf("%w: versions %d..%d", ErrBadHello, h.Versions.Min, h.Versions.Max)
	case h.Streams < 1 || h.Streams > MaxStreams:
		return fmt.Errorf("%w: %d streams, want 1..%d", ErrBadHello, h.Streams, MaxStreams)
	case h.Stream < 0 || h.Stream >= h.Streams:
		return fmt.Errorf("%w: stream %d of %d", ErrBadHello, h.Stream, h.Streams)
	}
	return nil
}

// WriteHello writes h to w.
func WriteHello(w io.Writer, h Hello) error {
	b, err := h.MarshalBinary()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("xfer: write hello: %w", err)
	}
	return nil
}

// ReadHello reads one hello from r. An end of input before HelloLen bytes
// wraps io.ErrUnexpectedEOF (io.EOF if nothing came).
func ReadHello(r io.Reader) (Hello, error) {
	var b [HelloLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Hello{}, fmt.Errorf("xfer: read hello: %w", err)
	}
	var h Hello
	return h, h.UnmarshalBinary(b[:])
}

// IsHello reports whether the next bytes of br are a hello's magic,
// without consuming anything: the joiner calls it on each data connection
// to choose between the v2 stage and the stock stream, which it then reads
// from br as today. A stream shorter than the magic is not a hello; read
// errors other than the end of input are returned.
func IsHello(br *bufio.Reader) (bool, error) {
	b, err := br.Peek(len(HelloMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("xfer: peek at stream: %w", err)
	}
	return bytes.Equal(b, []byte(HelloMagic)), nil
}

// Greet runs the donor's side of the hello exchange on one connection: it
// sends h and reads the joiner's answer from r. It returns the negotiated
// version, or an error wrapping ErrNoVersion (the joiner answered but
// shares no version: fail the SST, since a v2 stage was already begun),
// ErrBadHello, ErrNotHello or the I/O error.
func Greet(rw io.ReadWriter, h Hello) (Version, error) {
	if err := WriteHello(rw, h); err != nil {
		return 0, err
	}
	return finishGreet(rw, h)
}

// finishGreet reads the joiner's answer to h and negotiates.
func finishGreet(rw io.ReadWriter, h Hello) (Version, error) {
	peer, err := ReadHello(rw)
	if err != nil {
		return 0, err
	}
	if peer.Stream != h.Stream || peer.Streams != h.Streams {
		return 0, fmt.Errorf("%w: answer for stream %d of %d, sent %d of %d",
			ErrBadHello, peer.Stream, peer.Streams, h.Stream, h.Streams)
	}
	v, ok := Negotiate(h.Versions, peer.Versions)
	if !ok {
		return 0, fmt.Errorf("%w: donor speaks %d..%d, joiner %d..%d",
			ErrNoVersion, h.Versions.Min, h.Versions.Max, peer.Versions.Min, peer.Versions.Max)
	}
	return v, nil
}

// Answer runs the joiner's side: it reads the donor's hello from r,
// answers with ours (the stream fields copied), and returns the donor's
// hello and the negotiated version. If the versions do not meet it still
// answers, so that the donor can report it too, and returns ErrNoVersion.
func Answer(rw io.ReadWriter, ours Range) (Hello, Version, error) {
	peer, err := ReadHello(rw)
	if err != nil {
		return Hello{}, 0, err
	}
	v, err := answer(rw, ours, peer)
	return peer, v, err
}

// answer sends ours in reply to peer and negotiates.
func answer(w io.Writer, ours Range, peer Hello) (Version, error) {
	reply := Hello{Versions: ours, Stream: peer.Stream, Streams: peer.Streams}
	if err := WriteHello(w, reply); err != nil {
		return 0, err
	}
	v, ok := Negotiate(ours, peer.Versions)
	if !ok {
		return 0, fmt.Errorf("%w: donor speaks %d..%d, joiner %d..%d",
			ErrNoVersion, peer.Versions.Min, peer.Versions.Max, ours.Min, ours.Max)
	}
	return v, nil
}
