package xfer

import (
	"strconv"
	"strings"
)

// Version is a protocol version of the v2 data stage. Versions are small
// positive integers; 0 is never valid.
type Version uint16

// Versions this package speaks. A peer negotiates down to the lower of its
// own MaxVersion and the other side's.
const (
	MinVersion Version = 1
	MaxVersion Version = OfferVersion
)

// Range is an inclusive range of versions, Min <= Max.
type Range struct {
	Min, Max Version
}

// Supported is the range this package speaks.
var Supported = Range{Min: MinVersion, Max: MaxVersion}

// Negotiate returns the version both a and b speak, the higher end of their
// overlap (the lower of the two maxima), and false if they share none.
func Negotiate(a, b Range) (Version, bool) {
	v := min(a.Max, b.Max)
	if v == 0 || v < a.Min || v < b.Min {
		return 0, false
	}
	return v, true
}

// tokenPrefix starts every token. It is fixed forever: a later format of
// the token must keep it and stay parseable by ParseToken, which ignores
// what it does not know.
const tokenPrefix = "xfer-v"

// maxTokenLen bounds what ParseToken looks at; the field is argv material.
const maxTokenLen = 64

// Token returns the string a joiner puts in the lsn field of its ready
// address to offer the versions in r:
//
//	xfer-v<min>.<max>
//
// for example "xfer-v1.2". It uses only lower-case letters, digits, '-'
// and '.', so it passes the stock scripts' safe() check (no space, quote,
// backquote or '$') and contains no '/', the address's field separator.
func (r Range) Token() string {
	return tokenPrefix + strconv.Itoa(int(r.Min)) + "." + strconv.Itoa(int(r.Max))
}

// ParseToken reads the lsn field of a ready address. It returns the range
// a joiner offered and true if the field is a token of ours; anything else
// (empty, an InnoDB LSN, another tool's value, a malformed token) gives
// false and is to be ignored, falling back to the stock stream.
//
// The grammar is
//
//	token = "xfer-v" num "." num *( "-" ext )
//	num   = "1"-"9" *digit          ; at most 65535
//	ext   = 1*( "a"-"z" / digit )   ; ignored by this version
//
// with the first num not above the second. Extensions let a later joiner
// announce features without breaking this parser; this version knows none.
func ParseToken(lsn string) (Range, bool) {
	if len(lsn) > maxTokenLen || !strings.HasPrefix(lsn, tokenPrefix) {
		return Range{}, false
	}
	rest := lsn[len(tokenPrefix):]
	vers, exts, _ := strings.Cut(rest, "-")
	lo, hi, ok := strings.Cut(vers, ".")
	if !ok {
		return Range{}, false
	}
	a, ok1 := parseVersion(lo)
	b, ok2 := parseVersion(hi)
	if !ok1 || !ok2 || a > b {
		return Range{}, false
	}
	if exts != "" || strings.HasSuffix(rest, "-") {
		for e := range strings.SplitSeq(exts, "-") {
			if !validExt(e) {
				return Range{}, false
			}
		}
	}
	return Range{Min: a, Max: b}, true
}

func parseVersion(s string) (Version, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 0xffff {
		return 0, false
	}
	return Version(n), true
}

func validExt(e string) bool {
	if e == "" {
		return false
	}
	for _, c := range []byte(e) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
