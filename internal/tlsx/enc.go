package tlsx

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The encrypt=1 transport of the stock script (get_keys with
// encrypt-format=openssl) pipes the stream through
//
//	openssl enc -<encrypt-algo> -pbkdf2 -k '<key>'     (donor)
//	openssl enc -<encrypt-algo> -pbkdf2 -k '<key>' -d  (joiner)
//
// (-kfile '<file>' instead of -k when only encrypt-key-file is set). With
// -pbkdf2 and no -iter/-md, OpenSSL 1.1.1 and 3.x write "Salted__", an
// 8-byte random salt, then the ciphertext, and derive key and IV together as
// PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, keylen+ivlen).

const (
	encMagic = "Salted__"
	encIter  = 10000 // openssl enc's default -iter with -pbkdf2
	saltLen  = 8
)

// Errors returned by the encrypt=1 stream readers; they match what
// openssl enc -d prints for the same input.
var (
	// ErrBadMagic means the stream does not start with "Salted__" and
	// an 8-byte salt ("bad magic number").
	ErrBadMagic = errors.New("tlsx: bad magic number")
	// ErrBadDecrypt means the padding of the final CBC/ECB block is
	// invalid, almost always a wrong key or algorithm ("bad decrypt").
	ErrBadDecrypt = errors.New("tlsx: bad decrypt")
	// ErrUnsupportedCipher means the encrypt-algo name is not one of
	// the AES ciphers this package implements.
	ErrUnsupportedCipher = errors.New("tlsx: unsupported cipher")
)

type encMode int

const (
	modeCBC encMode = iota
	modeECB
	modeCTR
	modeCFB
	modeOFB
)

type cipherSpec struct {
	keyLen int
	mode   encMode
}

func (s cipherSpec) ivLen() int {
	if s.mode == modeECB {
		return 0
	}
	return aes.BlockSize
}

func (s cipherSpec) padded() bool { return s.mode == modeCBC || s.mode == modeECB }

// lookupCipher accepts the names openssl enc accepts for AES, without the
// leading '-' and case-insensitively as OpenSSL's name lookup is:
// aes-{128,192,256}-{cbc,ecb,ctr,cfb,ofb} and the aliases aes128, aes192,
// aes256 (CBC), which is what encrypt-algo=AES256 from the xtrabackup
// documentation turns into with encrypt-format=openssl.
func lookupCipher(algo string) (cipherSpec, error) {
	name := strings.ToLower(strings.TrimPrefix(algo, "-"))
	switch name {
	case "aes128":
		name = "aes-128-cbc"
	case "aes192":
		name = "aes-192-cbc"
	case "aes256":
		name = "aes-256-cbc"
	}
	var bits int
	var mode string
	if _, err := fmt.Sscanf(name, "aes-%d-%s", &bits, &mode); err != nil || fmt.Sprintf("aes-%d-%s", bits, mode) != name {
		return cipherSpec{}, fmt.Errorf("cipher %q: %w", algo, ErrUnsupportedCipher)
	}
	spec := cipherSpec{keyLen: bits / 8}
	switch bits {
	case 128, 192, 256:
	default:
		return cipherSpec{}, fmt.Errorf("cipher %q: %w", algo, ErrUnsupportedCipher)
	}
	switch mode {
	case "cbc":
		spec.mode = modeCBC
	case "ecb":
		spec.mode = modeECB
	case "ctr":
		spec.mode = modeCTR
	case "cfb", "cfb128":
		spec.mode = modeCFB
	case "ofb":
		spec.mode = modeOFB
	default:
		return cipherSpec{}, fmt.Errorf("cipher %q: %w", algo, ErrUnsupportedCipher)
	}
	return spec, nil
}

// CheckCipher reports whether algo (the encrypt-algo value) names a cipher
// NewEncryptWriter and NewDecryptReader support. The error wraps
// ErrUnsupportedCipher.
func CheckCipher(algo string) error {
	_, err := lookupCipher(algo)
	return err
}

// deriveKeyIV mirrors openssl enc -pbkdf2: one PBKDF2-HMAC-SHA256 output
// split into key and IV. The password ends at its first NUL byte, since
// enc passes it to OpenSSL as a C string.
func deriveKeyIV(spec cipherSpec, pass, salt []byte) (key, iv []byte, err error) {
	if i := bytes.IndexByte(pass, 0); i >= 0 {
		pass = pass[:i]
	}
	out, err := pbkdf2.Key(sha256.New, string(pass), salt, encIter, spec.keyLen+spec.ivLen())
	if err != nil {
		return nil, nil, fmt.Errorf("derive key: %w", err)
	}
	return out[:spec.keyLen], out[spec.keyLen:], nil
}

// ReadKeyFile reads an encrypt-key-file the way openssl enc -kfile does:
// only the first line counts, at most 127 bytes of it, trailing CR and LF
// are removed, and like enc it refuses a password shorter than 2 bytes
// ("zero length password"). The error names the file.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read encrypt key file: %w", err)
	}
	defer f.Close()
	// BIO_gets(buf, 128): up to 127 bytes, stopping after a newline.
	buf := make([]byte, 127)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n : n+1])
		if m == 0 || err != nil {
			break
		}
		n++
		if buf[n-1] == '\n' {
			break
		}
	}
	line := buf[:n]
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 {
		return nil, fmt.Errorf("read encrypt key file %s: can't read key", path)
	}
	// enc.c: while (--i > 0 && (buf[i] == '\r' || buf[i] == '\n')) ...;
	// if (i <= 0) "zero length password".
	i := len(line)
	for i--; i > 0 && (line[i] == '\r' || line[i] == '\n'); i-- {
		line = line[:i]
	}
	if i <= 0 {
		return nil, fmt.Errorf("read encrypt key file %s: zero length password", path)
	}
	return line, nil
}

// newBlock builds the AES block cipher for spec.
func newBlock(spec cipherSpec, key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		// key has the length lookupCipher chose; this cannot fail.
		panic("tlsx: " + err.Error())
	}
	return b
}

// cfbStream is CFB-128 (OpenSSL's aes-*-cfb), written out because
// crypto/cipher's CFB constructors are deprecated.
type cfbStream struct {
	b       cipher.Block
	reg     [aes.BlockSize]byte // previous ciphertext block
	ks      [aes.BlockSize]byte
	used    int
	decrypt bool
}

func (s *cfbStream) XORKeyStream(dst, src []byte) {
	for i := range src {
		if s.used == len(s.ks) {
			s.b.Encrypt(s.ks[:], s.reg[:])
			s.used = 0
		}
		c := src[i]
		p := c ^ s.ks[s.used]
		if !s.decrypt {
			c = p
		}
		dst[i] = p
		s.reg[s.used] = c
		s.used++
	}
}

// ofbStream is OFB (OpenSSL's aes-*-ofb); crypto/cipher.NewOFB is
// deprecated.
type ofbStream struct {
	b    cipher.Block
	ks   [aes.BlockSize]byte
	used int
}

func (s *ofbStream) XORKeyStream(dst, src []byte) {
	for i := range src {
		if s.used == len(s.ks) {
			s.b.Encrypt(s.ks[:], s.ks[:])
			s.used = 0
		}
		dst[i] = src[i] ^ s.ks[s.used]
		s.used++
	}
}

// ecbMode applies the block cipher to each block independently.
type ecbMode struct {
	b       cipher.Block
	decrypt bool
}

func (m ecbMode) BlockSize() int { return m.b.BlockSize() }

func (m ecbMode) CryptBlocks(dst, src []byte) {
	for bs := m.b.BlockSize(); len(src) > 0; src, dst = src[bs:], dst[bs:] {
		if m.decrypt {
			m.b.Decrypt(dst[:bs], src[:bs])
		} else {
			m.b.Encrypt(dst[:bs], src[:bs])
		}
	}
}

func newStream(spec cipherSpec, b cipher.Block, iv []byte, decrypt bool) cipher.Stream {
	switch spec.mode {
	case modeCTR:
		return cipher.NewCTR(b, iv)
	case modeCFB:
		s := &cfbStream{b: b, used: aes.BlockSize, decrypt: decrypt}
		copy(s.reg[:], iv)
		return s
	default: // modeOFB
		s := &ofbStream{b: b, used: aes.BlockSize}
		copy(s.ks[:], iv)
		return s
	}
}

func newBlockMode(spec cipherSpec, b cipher.Block, iv []byte, decrypt bool) cipher.BlockMode {
	switch {
	case spec.mode == modeECB:
		return ecbMode{b: b, decrypt: decrypt}
	case decrypt:
		return cipher.NewCBCDecrypter(b, iv)
	default:
		return cipher.NewCBCEncrypter(b, iv)
	}
}

// encWriter implements NewEncryptWriter.
type encWriter struct {
	w      io.Writer
	header []byte // pending "Salted__"+salt, written with the first output
	stream cipher.Stream
	mode   cipher.BlockMode
	buf    []byte // CBC/ECB: plaintext not yet a full block; scratch otherwise
	out    []byte
	err    error
	closed bool
}

// NewEncryptWriter returns a writer that encrypts what is written to it
// into w exactly as `openssl enc -<algo> -pbkdf2 -k <pass>` would (OpenSSL
// 1.1.1 or later): a "Salted__" header with a fresh random salt, key and IV
// from PBKDF2-HMAC-SHA256 with 10000 iterations, PKCS#7 padding for CBC and
// ECB. algo is the script's encrypt-algo (see CheckCipher); pass is the
// encrypt-key, or ReadKeyFile's result for encrypt-key-file.
//
// Nothing is written to w before the first Write or Close. Close writes
// the final (padded) block and must be called; it does not close w. The
// writer is not safe for concurrent use.
func NewEncryptWriter(w io.Writer, algo string, pass []byte) (io.WriteCloser, error) {
	spec, err := lookupCipher(algo)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generate salt: %w", err)
	}
	return newEncryptWriter(w, spec, pass, salt)
}

func newEncryptWriter(w io.Writer, spec cipherSpec, pass, salt []byte) (*encWriter, error) {
	key, iv, err := deriveKeyIV(spec, pass, salt)
	if err != nil {
		return nil, err
	}
	b := newBlock(spec, key)
	e := &encWriter{w: w, header: append([]byte(encMagic), salt...)}
	if spec.padded() {
		e.mode = newBlockMode(spec, b, iv, false)
	} else {
		e.stream = newStream(spec, b, iv, false)
	}
	return e, nil
}

func (e *encWriter) emit(p []byte) error {
	if e.header != nil {
		p = append(e.header, p...)
		e.header = nil
	}
	if len(p) == 0 {
		return nil
	}
	_, err := e.w.Write(p)
	return err
}

// Write encrypts p. Short writes of the underlying writer are reported as
// errors and are sticky.
func (e *encWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, errors.New("tlsx: write to closed encrypt writer")
	}
	n := len(p)
	if e.stream != nil {
		for len(p) > 0 {
			chunk := min(len(p), 64<<10)
			e.out = grow(e.out, chunk)
			e.stream.XORKeyStream(e.out, p[:chunk])
			if err := e.emit(e.out); err != nil {
				e.err = err
				return n - len(p), err
			}
			p = p[chunk:]
		}
		return n, nil
	}
	e.buf = append(e.buf, p...)
	full := len(e.buf) / aes.BlockSize * aes.BlockSize
	if full > 0 {
		e.out = grow(e.out, full)
		e.mode.CryptBlocks(e.out, e.buf[:full])
		rest := copy(e.buf, e.buf[full:])
		e.buf = e.buf[:rest]
		if err := e.emit(e.out); err != nil {
			e.err = err
			return 0, err
		}
	}
	return n, nil
}

// Close pads and writes the last block (CBC, ECB) or just the header if
// nothing was written. It does not close the underlying writer.
func (e *encWriter) Close() error {
	if e.closed || e.err != nil {
		return e.err
	}
	e.closed = true
	var last []byte
	if e.mode != nil {
		pad := aes.BlockSize - len(e.buf)
		block := append(e.buf, bytes.Repeat([]byte{byte(pad)}, pad)...)
		last = make([]byte, aes.BlockSize)
		e.mode.CryptBlocks(last, block)
	}
	if err := e.emit(last); err != nil {
		e.err = err
	}
	return e.err
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// decReader implements NewDecryptReader.
type decReader struct {
	r      io.Reader
	spec   cipherSpec
	pass   []byte
	stream cipher.Stream
	mode   cipher.BlockMode
	in     []byte // CBC/ECB ciphertext not yet decrypted (held back for padding)
	out    []byte // decrypted, not yet returned
	plain  []byte // CBC/ECB: buffer d.out points into
	eof    bool
	err    error
}

// NewDecryptReader returns a reader that decrypts the output of
// `openssl enc -<algo> -pbkdf2 -k <pass>` (or of NewEncryptWriter) read
// from r, like `openssl enc -d` with the same options. It reads the header
// on the first Read, not here. A stream without the "Salted__" header gives
// ErrBadMagic, bad CBC/ECB padding at the end gives ErrBadDecrypt, and a
// stream ending inside the header or a block gives io.ErrUnexpectedEOF.
// Stream modes (CTR, CFB, OFB) cannot detect a wrong key. The reader is not
// safe for concurrent use.
func NewDecryptReader(r io.Reader, algo string, pass []byte) (io.Reader, error) {
	spec, err := lookupCipher(algo)
	if err != nil {
		return nil, err
	}
	return &decReader{r: r, spec: spec, pass: bytes.Clone(pass)}, nil
}

func (d *decReader) init() error {
	var hdr [len(encMagic) + saltLen]byte
	if n, err := io.ReadFull(d.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if n == 0 || !bytes.HasPrefix([]byte(encMagic), hdr[:min(n, len(encMagic))]) {
				return fmt.Errorf("read encryption header: %w", ErrBadMagic)
			}
			return fmt.Errorf("read encryption header: %w", io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("read encryption header: %w", err)
	}
	if string(hdr[:len(encMagic)]) != encMagic {
		return fmt.Errorf("read encryption header: %w", ErrBadMagic)
	}
	key, iv, err := deriveKeyIV(d.spec, d.pass, hdr[len(encMagic):])
	if err != nil {
		return err
	}
	b := newBlock(d.spec, key)
	if d.spec.padded() {
		d.mode = newBlockMode(d.spec, b, iv, true)
	} else {
		d.stream = newStream(d.spec, b, iv, true)
	}
	return nil
}

// Read returns decrypted bytes. Errors are sticky.
func (d *decReader) Read(p []byte) (int, error) {
	if d.stream == nil && d.mode == nil && d.err == nil {
		d.err = d.init()
	}
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill(max(len(p), 4096))
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// fill reads more ciphertext and decrypts what it can into d.out, or sets
// d.err (io.EOF at the clean end).
func (d *decReader) fill(size int) {
	size = min(size, 256<<10)
	if d.stream != nil {
		buf := grow(d.in, size)
		n, err := d.r.Read(buf)
		d.in = buf
		if n > 0 {
			d.stream.XORKeyStream(buf[:n], buf[:n])
			d.out = buf[:n]
		}
		if err != nil {
			d.err = err
		}
		return
	}
	// Block modes: keep the last full block back until EOF, for padding.
	if d.eof {
		d.err = io.EOF
		return
	}
	have := len(d.in)
	d.in = slices.Grow(d.in, size)
	n, err := d.r.Read(d.in[have : have+size])
	d.in = d.in[:have+n]
	if err == io.EOF {
		d.eof = true
	} else if err != nil {
		d.err = err
		return
	}
	bs := aes.BlockSize
	if d.eof {
		if len(d.in) == 0 || len(d.in)%bs != 0 {
			// openssl enc -d: "bad decrypt" for a truncated last block too.
			d.err = fmt.Errorf("decrypt: input is not a whole number of blocks: %w", ErrBadDecrypt)
			return
		}
		plain := make([]byte, len(d.in))
		d.mode.CryptBlocks(plain, d.in)
		pad := int(plain[len(plain)-1])
		if pad == 0 || pad > bs {
			d.err = fmt.Errorf("decrypt: %w", ErrBadDecrypt)
			return
		}
		for _, c := range plain[len(plain)-pad:] {
			if int(c) != pad {
				d.err = fmt.Errorf("decrypt: %w", ErrBadDecrypt)
				return
			}
		}
		d.out = plain[:len(plain)-pad]
		d.in = d.in[:0]
		if len(d.out) == 0 {
			d.err = io.EOF
		}
		return
	}
	// Decrypt all complete blocks except the last one.
	ready := (len(d.in)/bs - 1) * bs
	if ready <= 0 {
		return
	}
	d.plain = grow(d.plain, ready)
	d.mode.CryptBlocks(d.plain, d.in[:ready])
	d.out = d.plain
	rest := copy(d.in, d.in[ready:])
	d.in = d.in[:rest]
}
