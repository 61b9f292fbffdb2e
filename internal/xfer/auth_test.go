package xfer

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// pipePair runs the donor's greet and the joiner's answer over net.Pipe.
func exchange(t *testing.T, donor func(io.ReadWriter) (Version, error), secret string, ours Range) (Hello, Version, Auth, error, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	type res struct {
		v   Version
		err error
	}
	done := make(chan res, 1)
	go func() {
		v, err := donor(a)
		done <- res{v, err}
		a.Close()
	}()
	h, v, auth, err := AnswerAuth(b, ours, secret)
	b.Close()
	r := <-done
	return h, v, auth, err, r.err
}

func TestHelloAuth(t *testing.T) {
	h := Hello{Versions: Supported, Stream: 1, Streams: 3}
	tests := []struct {
		name      string
		donor     func(io.ReadWriter) (Version, error)
		secret    string
		ours      Range
		want      Auth
		wantV     Version
		donorFail bool
	}{
		{"right secret", func(rw io.ReadWriter) (Version, error) { return GreetAuth(rw, h, "s3cret") }, "s3cret", Supported, AuthOK, MaxVersion, false},
		{"wrong secret", func(rw io.ReadWriter) (Version, error) { return GreetAuth(rw, h, "guess") }, "s3cret", Supported, AuthBad, 0, true},
		{"no secret at the donor", func(rw io.ReadWriter) (Version, error) { return GreetAuth(rw, h, "") }, "s3cret", Supported, AuthBad, 0, true},
		{"older donor: no MAC", func(rw io.ReadWriter) (Version, error) {
			return Greet(rw, Hello{Versions: Range{1, 1}, Stream: 1, Streams: 3})
		}, "s3cret", Supported, AuthNone, 1, false},
		{"joiner without secret reads and ignores the MAC", func(rw io.ReadWriter) (Version, error) { return GreetAuth(rw, h, "") }, "", Supported, AuthNone, MaxVersion, false},
		{"older joiner never gets a MAC", func(rw io.ReadWriter) (Version, error) { return Greet(rw, h) }, "", Range{1, 1}, AuthNone, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, v, auth, err, derr := exchange(t, tt.donor, tt.secret, tt.ours)
			if err != nil {
				t.Fatalf("AnswerAuth: %v", err)
			}
			if auth != tt.want || v != tt.wantV {
				t.Errorf("auth %v, version %d; want %v, %d", auth, v, tt.want, tt.wantV)
			}
			if got.Stream != 1 || got.Streams != 3 {
				t.Errorf("hello %+v", got)
			}
			if (derr != nil) != tt.donorFail {
				t.Errorf("donor error %v, want failure %v", derr, tt.donorFail)
			}
		})
	}
}

// The MAC binds the stream index: stream 0's MAC does not pass as stream 1's.
func TestHelloMACBindsStream(t *testing.T) {
	a, _ := HelloMAC("k", Hello{Versions: Supported, Stream: 0, Streams: 2})
	b, _ := HelloMAC("k", Hello{Versions: Supported, Stream: 1, Streams: 2})
	c, _ := HelloMAC("other", Hello{Versions: Supported, Stream: 0, Streams: 2})
	if bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != AuthLen {
		t.Errorf("MACs of different streams or secrets collide, or wrong length %d", len(a))
	}
}

// A hello that ends before its MAC is an error, not an accepted donor.
func TestHelloMACTruncated(t *testing.T) {
	b, _ := Hello{Versions: Supported, Stream: 0, Streams: 1}.MarshalBinary()
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(append(b, 1, 2, 3)), io.Discard}
	_, _, auth, err := AnswerAuth(rw, Supported, "k")
	if !errors.Is(err, io.ErrUnexpectedEOF) || auth == AuthOK {
		t.Errorf("AnswerAuth = %v, %v; want ErrUnexpectedEOF", auth, err)
	}
}

func FuzzAnswerAuth(f *testing.F) {
	b, _ := Hello{Versions: Supported, Stream: 0, Streams: 1}.MarshalBinary()
	mac, _ := HelloMAC("k", Hello{Versions: Supported, Stream: 0, Streams: 1})
	f.Add(append(b, mac...))
	f.Add(b)
	f.Add([]byte("XBSTCK01"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), io.Discard}
		h, _, auth, err := AnswerAuth(rw, Supported, "k")
		if auth == AuthOK {
			want, _ := HelloMAC("k", h)
			if err != nil || len(in) < HelloLen+AuthLen || !bytes.Equal(in[HelloLen:HelloLen+AuthLen], want) {
				t.Fatalf("accepted %x without its MAC", in)
			}
		}
	})
}
