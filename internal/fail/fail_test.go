package fail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

// handshake stands for a package's own error type that knows its class.
type handshake struct{ cert bool }

func (h handshake) Error() string { return "handshake" }
func (h handshake) Class() Class {
	if h.cert {
		return Invalid
	}
	return Transfer
}

func TestClassOf(t *testing.T) {
	sentinel := New(Missing, "no such thing")
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Unexpected},
		{"plain", errors.New("boom"), Unexpected},
		{"errorf", Errorf(NoSpace, "full"), NoSpace},
		{"wrapped by fmt", fmt.Errorf("outer: %w", Errorf(Busy, "busy")), Busy},
		{"the outermost class wins", Wrap(Invalid, Errorf(Transfer, "x")), Invalid},
		{"a sentinel wrapped", fmt.Errorf("read my.cnf: %w", sentinel), Missing},
		{"a type of its own", fmt.Errorf("x: %w", handshake{cert: true}), Invalid},
		{"a type of its own, other class", handshake{}, Transfer},
		{"joined: the first classed", errors.Join(errors.New("plain"), Errorf(Stalled, "silent")), Stalled},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), Transfer},
		{"deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), Transfer},
		{"classed beats the fallback", Errorf(Invalid, "%w", syscall.EPIPE), Invalid},
		{"SIGTERM", &SignalError{Signal: syscall.SIGTERM}, Interrupted},
		{"SIGINT wrapped", fmt.Errorf("x: %w", &SignalError{Signal: os.Interrupt}), Interrupted},
		{"SIGHUP", &SignalError{Signal: syscall.SIGHUP}, Transfer},
		{"SIGPIPE", &SignalError{Signal: syscall.SIGPIPE}, Transfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassOf(tt.err); got != tt.want {
				t.Errorf("ClassOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	sentinel := New(Missing, "no such thing")
	err := fmt.Errorf("open: %w", sentinel)
	if !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, sentinel) = false", err)
	}
	if !errors.Is(Wrap(Invalid, os.ErrNotExist), os.ErrNotExist) {
		t.Error("Wrap loses the wrapped error")
	}
	if got := Errorf(Invalid, "bad %s: %w", "value", os.ErrPermission).Error(); got != "bad value: permission denied" {
		t.Errorf("Errorf text = %q", got)
	}
	if Wrap(Invalid, nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}

func TestHas(t *testing.T) {
	if Has(errors.New("plain")) || Has(nil) || Has(syscall.EPIPE) {
		t.Error("Has is true for an error without a class")
	}
	if !Has(fmt.Errorf("x: %w", Errorf(Unexpected, "bug"))) || !Has(handshake{}) {
		t.Error("Has is false for a classed error")
	}
}

func TestClassString(t *testing.T) {
	seen := map[string]bool{}
	for c := Unexpected; c <= Busy; c++ {
		s := c.String()
		if s == "" || seen[s] || s == fmt.Sprintf("class(%d)", uint8(c)) {
			t.Errorf("Class(%d).String() = %q: empty, repeated or unnamed", c, s)
		}
		seen[s] = true
	}
	if s := Class(200).String(); s != "class(200)" {
		t.Errorf("Class(200).String() = %q", s)
	}
}
