package operator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Position is a Galera position: the cluster state UUID and a seqno.
type Position struct {
	UUID  string
	Seqno int64
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.UUID, p.Seqno) }

// ParsePosition parses "uuid:seqno" as the first field of a galera info
// line ("uuid:seqno [domain ...]").
func ParsePosition(s string) (Position, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Position{}, errors.New("empty position")
	}
	i := strings.LastIndexByte(f[0], ':')
	if i < 0 {
		return Position{}, fmt.Errorf("position %q is not uuid:seqno", f[0])
	}
	uuid, seq := f[0][:i], f[0][i+1:]
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || !validUUID(uuid) {
		return Position{}, fmt.Errorf("position %q is not uuid:seqno", f[0])
	}
	return Position{UUID: uuid, Seqno: n}, nil
}

// validUUID checks the 8-4-4-4-12 hex shape of a cluster state UUID.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
