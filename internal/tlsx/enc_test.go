package tlsx

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/iotest"

	"wsrep_sst_mariabackup/internal/tlsx/tlsxtest"
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// The names the script can pass as -<encrypt-algo>.
var encAlgos = []string{
	"aes-128-cbc", "aes-192-cbc", "aes-256-cbc",
	"aes-128-ctr", "aes-192-ctr", "aes-256-ctr",
	"aes-128-cfb", "aes-256-cfb", "aes-192-ofb", "aes-256-ofb",
	"aes-128-ecb", "aes-256-ecb", "AES256", "aes128", "AES-256-CBC",
}

var encSizes = []int{0, 1, 15, 16, 17, 31, 32, 33, 4 << 20}

func encrypt(t testing.TB, algo string, pass, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewEncryptWriter(&buf, algo, pass)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes exercise the partial-block buffering.
	for p := plain; len(p) > 0; {
		n := min(len(p), 7777)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decrypt(algo string, pass, data []byte, wrap func(io.Reader) io.Reader) ([]byte, error) {
	r, err := NewDecryptReader(wrap(bytes.NewReader(data)), algo, pass)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func identity(r io.Reader) io.Reader { return r }

func openssl(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl binary not found; cannot check byte compatibility:", err)
	}
	return path
}

// runOpenSSL runs `openssl enc -<algo> -pbkdf2 <passArgs...> [-d]` as
// get_keys builds it, with stdin.
func runOpenSSL(t testing.TB, bin, algo string, decrypt bool, in []byte, passArgs ...string) ([]byte, error) {
	t.Helper()
	args := append([]string{"enc", "-" + algo, "-pbkdf2"}, passArgs...)
	if decrypt {
		args = append(args, "-d")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v: %w: %s", args, err, stderr.Bytes())
	}
	return out, nil
}

func TestEncOpenSSLCompat(t *testing.T) {
	bin := openssl(t)
	pass := []byte("s3cr3t key")
	for _, algo := range encAlgos {
		for _, size := range encSizes {
			t.Run(fmt.Sprintf("%s/%d", algo, size), func(t *testing.T) {
				plain := randomBytes(t, size)
				// ours -> openssl enc -d
				ct := encrypt(t, algo, pass, plain)
				got, err := runOpenSSL(t, bin, algo, true, ct, "-k", string(pass))
				if err != nil {
					t.Fatalf("openssl enc -d: %v", err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatalf("openssl decrypted %d bytes, differing from the %d we encrypted", len(got), len(plain))
				}
				// openssl enc -> ours
				ct, err = runOpenSSL(t, bin, algo, false, plain, "-k", string(pass))
				if err != nil {
					t.Fatalf("openssl enc: %v", err)
				}
				got, err = decrypt(algo, pass, ct, identity)
				if err != nil {
					t.Fatalf("decrypt openssl output: %v", err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatalf("decrypted %d bytes, differing from the %d openssl encrypted", len(got), len(plain))
				}
			})
		}
	}
}

func TestReadKeyFileOpenSSLCompat(t *testing.T) {
	bin := openssl(t)
	dir := t.TempDir()
	plain := []byte("some data for -kfile")
	long := bytes.Repeat([]byte("k"), 300)
	for name, content := range map[string][]byte{
		"plain":     []byte("password"),
		"newline":   []byte("password\n"),
		"crlf":      []byte("password\r\n"),
		"two lines": []byte("first line\nsecond line\n"),
		"long":      long,
		"two bytes": []byte("ab\n"),
		"one byte":  []byte("a\n"),
		"empty":     nil,
		"newlines":  []byte("\n\n"),
	} {
		t.Run(name, func(t *testing.T) {
			path := tlsxtest.WriteFile(t, dir, filepath.Base(name), content)
			ct, oerr := runOpenSSL(t, bin, "aes-256-cbc", false, plain, "-kfile", path)
			pass, err := ReadKeyFile(path)
			if (oerr != nil) != (err != nil) {
				t.Fatalf("ReadKeyFile error %v; openssl -kfile error %v", err, oerr)
			}
			if err != nil {
				return
			}
			got, err := decrypt("aes-256-cbc", pass, ct, identity)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decrypt with ReadKeyFile's %q: %q, %v", pass, got, err)
			}
		})
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadKeyFile(missing file) succeeded")
	}
}

func TestEncRoundTripReaders(t *testing.T) {
	pass := []byte("pw")
	plain := randomBytes(t, 100003)
	wraps := map[string]func(io.Reader) io.Reader{
		"OneByteReader": iotest.OneByteReader,
		"HalfReader":    iotest.HalfReader,
		"DataErrReader": iotest.DataErrReader,
	}
	for _, algo := range []string{"aes-256-cbc", "aes-128-ctr", "aes-256-cfb", "aes-192-ofb", "aes-128-ecb"} {
		ct := encrypt(t, algo, pass, plain)
		for name, wrap := range wraps {
			got, err := decrypt(algo, pass, ct, wrap)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s/%s: got %d bytes, %v; want the %d plaintext bytes", algo, name, len(got), err, len(plain))
			}
		}
		r, _ := NewDecryptReader(bytes.NewReader(ct), algo, pass)
		if err := iotest.TestReader(r, plain); err != nil {
			t.Errorf("%s: iotest.TestReader: %v", algo, err)
		}
	}
}

func TestEncErrors(t *testing.T) {
	pass := []byte("right")
	salt := []byte("12345678")
	spec, _ := lookupCipher("aes-256-cbc")
	var buf bytes.Buffer
	w, err := newEncryptWriter(&buf, spec, pass, salt)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("some plaintext that spans blocks"))
	w.Close()
	ct := buf.Bytes()

	tests := []struct {
		name string
		algo string
		pass string
		data []byte
		want error
	}{
		{"wrong key", "aes-256-cbc", "wrong", ct, ErrBadDecrypt},
		{"no magic", "aes-256-cbc", "right", []byte("plain text, not encrypted at all"), ErrBadMagic},
		{"empty", "aes-256-cbc", "right", nil, ErrBadMagic},
		{"short header", "aes-256-cbc", "right", ct[:12], io.ErrUnexpectedEOF},
		{"header only", "aes-256-cbc", "right", ct[:16], ErrBadDecrypt},
		{"truncated block", "aes-256-cbc", "right", ct[:len(ct)-3], ErrBadDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decrypt(tt.algo, []byte(tt.pass), tt.data, identity)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v; want %v", err, tt.want)
			}
		})
	}
	for _, algo := range []string{"xbcrypt", "aes-256-gcm", "des-cbc", "aes-100-cbc", "aes-256-cbcx", ""} {
		if _, err := NewEncryptWriter(io.Discard, algo, pass); !errors.Is(err, ErrUnsupportedCipher) {
			t.Errorf("NewEncryptWriter(%q): %v; want ErrUnsupportedCipher", algo, err)
		}
		if err := CheckCipher(algo); !errors.Is(err, ErrUnsupportedCipher) {
			t.Errorf("CheckCipher(%q): %v; want ErrUnsupportedCipher", algo, err)
		}
	}
	// Header only for a stream mode is a valid empty stream.
	if got, err := decrypt("aes-128-ctr", pass, encrypt(t, "aes-128-ctr", pass, nil), identity); err != nil || len(got) != 0 {
		t.Errorf("empty CTR stream: %q, %v", got, err)
	}
}

func BenchmarkEncrypt(b *testing.B) {
	data := randomBytes(b, 8<<20)
	for _, algo := range []string{"aes-256-cbc", "aes-256-ctr"} {
		b.Run(algo, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				w, _ := NewEncryptWriter(io.Discard, algo, []byte("pw"))
				w.Write(data)
				w.Close()
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	data := randomBytes(b, 8<<20)
	for _, algo := range []string{"aes-256-cbc", "aes-256-ctr"} {
		ct := encrypt(b, algo, []byte("pw"), data)
		b.Run(algo, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, _ := NewDecryptReader(bytes.NewReader(ct), algo, []byte("pw"))
				io.Copy(io.Discard, r)
			}
		})
	}
}
