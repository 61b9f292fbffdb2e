package galeratest

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortsOutsideEphemeral checks that ports handed out are distinct,
// below the ephemeral range (where outgoing connections take their local
// ports) and not handed out again even once free.
func TestFreePortsOutsideEphemeral(t *testing.T) {
	hi := ephemeralStart()
	seen := map[int]bool{}
	for range 50 {
		ports, err := freePorts(4)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if p < portFloor || p >= hi {
				t.Fatalf("port %d outside %d-%d", p, portFloor, hi-1)
			}
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
}

// TestFreePortsSkipsListened checks that a port something listens on is
// never handed out.
func TestFreePortsSkipsListened(t *testing.T) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	busy := map[int]bool{}
	// Hold every port of a small window, then ask until one from it would
	// have come up by chance: none may.
	for p := portFloor; p < portFloor+200; p++ {
		l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // in use already: just as good
		}
		held = append(held, l)
		busy[p] = true
	}
	for range 500 {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		if busy[ports[0]] {
			t.Fatalf("port %d is listened on, but was handed out", ports[0])
		}
	}
}
