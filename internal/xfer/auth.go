package xfer

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
)

// AuthVersion is the first version whose hello is followed by a MAC: a
// donor that speaks it sends, right after its hello on every connection,
// HMAC-SHA256 keyed with the joiner's per-SST secret over authContext and
// the hello's HelloLen bytes, when the joiner offered it (its token's max
// is at least AuthVersion). A joiner that speaks it reads the MAC after a
// hello whose max version is at least AuthVersion. The frames are those of
// version 1: only the hello changed.
//
// The secret is the one the joiner put in its ready address (mysqld hands
// it to the donor as WSREP_SST_OPT_REMOTE_AUTH, never in argv). The MAC
// proves the donor knows it without revealing it, and binds it to the
// stream index, so a connection cannot be replayed as another stream.
const AuthVersion Version = 2

// AuthLen is the size of the MAC after an authenticated hello.
const AuthLen = sha256.Size

// authContext separates this MAC from any other use of the secret.
const authContext = "wsrep_sst_mariabackup xfer hello auth\x00"

// HelloMAC returns the MAC of h under secret.
func HelloMAC(secret string, h Hello) ([]byte, error) {
	b, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(authContext))
	m.Write(b)
	return m.Sum(nil), nil
}

// Auth is what the joiner learned about a connection's proof of the
// secret.
type Auth int

const (
	// AuthNone: the donor's hello announced no MAC (a donor older than
	// AuthVersion, or one the joiner did not offer it to).
	AuthNone Auth = iota
	// AuthOK: the MAC matched the secret.
	AuthOK
	// AuthBad: a MAC came and did not match.
	AuthBad
)

func (a Auth) String() string {
	switch a {
	case AuthOK:
		return "authenticated"
	case AuthBad:
		return "wrong secret"
	}
	return "no proof of the secret"
}

// GreetAuth is Greet for a joiner that offered AuthVersion or later: the
// MAC of h under secret follows the hello.
func GreetAuth(rw io.ReadWriter, h Hello, secret string) (Version, error) {
	mac, err := HelloMAC(secret, h)
	if err != nil {
		return 0, err
	}
	b, err := h.MarshalBinary()
	if err != nil {
		return 0, err
	}
	// One write: hello and MAC in one segment.
	if _, err := rw.Write(append(b, mac...)); err != nil {
		return 0, fmt.Errorf("xfer: write hello: %w", err)
	}
	return finishGreet(rw, h)
}

// AnswerAuth is Answer for a joiner with a secret ("" for none): after a
// hello announcing AuthVersion or later it reads the MAC and checks it in
// constant time, before it answers: on AuthBad it returns without
// answering (a donor that cannot prove the secret learns nothing of ours).
// It returns what it learned; only AuthOK proves the secret, and without
// a secret it is always AuthNone. The caller decides what AuthNone is
// worth.
func AnswerAuth(rw io.ReadWriter, ours Range, secret string) (Hello, Version, Auth, error) {
	peer, err := ReadHello(rw)
	if err != nil {
		return Hello{}, 0, AuthNone, err
	}
	auth := AuthNone
	if peer.Versions.Max >= AuthVersion && ours.Max >= AuthVersion {
		got := make([]byte, AuthLen)
		if _, err := io.ReadFull(rw, got); err != nil {
			return peer, 0, AuthNone, fmt.Errorf("xfer: read hello MAC: %w", err)
		}
		want, err := HelloMAC(secret, peer)
		if err != nil {
			return peer, 0, AuthNone, err
		}
		switch {
		case secret == "":
			// No secret offered (donor-auth=off): nothing to check.
		case hmac.Equal(got, want):
			auth = AuthOK
		default:
			return peer, 0, AuthBad, nil
		}
	}
	v, err := answer(rw, ours, peer)
	return peer, v, auth, err
}
