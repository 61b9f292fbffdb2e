package sst

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"wsrep_sst_mariabackup/internal/fail"
	"wsrep_sst_mariabackup/internal/pipe"
	"wsrep_sst_mariabackup/internal/stream"
	"wsrep_sst_mariabackup/internal/swap"
	"wsrep_sst_mariabackup/internal/transfer"
	"wsrep_sst_mariabackup/internal/xfer"
)

// xferVersions are the transfer versions this program offers and
// greets with: xfer.Supported; tests narrow it to run an earlier
// release's engine (the manifest, before xfer.OfferVersion).
var xferVersions = xfer.Supported

// offerV2 reports whether this joiner offers transfer v2 (transfer.Offers).
func (s *session) offerV2() bool {
	return transfer.Offers(s.cfg.TransferV2, s.tr.cipher)
}

// referenceFor readies the reference data for the donor: as sources to
// compare its offers with (xfer.OfferVersion), or hashed into a manifest
// sent on stream 0 (an earlier release of ours). The previous data is
// reference data only if it is kept until the new data is prepared; the
// interrupted attempt's always.
func (s *session) referenceFor(ctx context.Context, links []transfer.Conn, version xfer.Version, decision keepDecision, t targets, inPlace bool) (*transfer.Refs, error) {
	withOld := decision == keepOld
	if version < xfer.OfferVersion {
		m, dirs, err := s.ref.manifest(ctx, s, withOld, s.cfg.IdleTimeout/2)
		if err != nil {
			return nil, failure(ctx, fail.Transfer, "hash the reference data", err)
		}
		if err := m.Encode(links[0].Link); err != nil {
			return nil, failure(ctx, fail.Transfer, "send the manifest of the reference data to the donor", err)
		}
		s.log.Info(fmt.Sprintf("Transfer v%d from the donor over %d stream(s); reference data offered: %s in %d files",
			version, len(links), swap.Bytes(m.Bytes()), len(m.Files())))
		roots, closeRoots, err := openRoots(dirs)
		if err != nil {
			return nil, s.localError(ctx, t, "open the reference data", err)
		}
		rec := reconstructor(m.Seed(), roots)
		return &transfer.Refs{Rec: rec, MaxRef: s.ref.blockSize, Close: func() { rec.Close(); closeRoots() }}, nil
	}
	prefixes, dirs, include := s.ref.sourceDirs(s, withOld)
	if inPlace {
		// First: a block found there stays where it is.
		prefixes = append([]string{inPlacePrefix}, prefixes...)
		dirs[inPlacePrefix] = t.staging
		include[inPlacePrefix] = includePath(includeOld)
	}
	roots, closeRoots, err := openRoots(dirs)
	if err != nil {
		return nil, s.localError(ctx, t, "open the reference data", err)
	}
	sources := make([]xfer.Source, len(prefixes))
	names := make([]string, len(prefixes))
	for i, p := range prefixes {
		sources[i] = xfer.Source{Prefix: p, Root: roots[p], Include: include[p]}
		names[i] = dirs[p]
	}
	ctl := links[len(links)-1]
	wire := stream.NewCountingReader(ctl.R)
	if idle := s.cfg.IdleTimeout; idle > 0 {
		_ = ctl.Conn.SetReadDeadline(time.Now().Add(idle))
	}
	answer, err := xfer.AcceptOffers(wire, ctl.Link, sources)
	_ = ctl.Conn.SetReadDeadline(time.Time{})
	if err != nil {
		closeRoots()
		return nil, failure(ctx, fail.Transfer, "begin delta by offer with the donor", err)
	}
	what := "none (a full transfer)"
	if len(names) > 0 {
		what = strings.Join(names, ", ")
	}
	s.log.Info(fmt.Sprintf("Transfer v%d from the donor over %d stream(s), delta by offer; reference data compared block by block as the donor offers it: %s",
		version, len(links)-1, what))
	rec := reconstructor(answer.Seed(), roots)
	return &transfer.Refs{Rec: rec, Answer: answer, CtlWire: wire, Close: func() { rec.Close(); closeRoots() }}, nil
}

// answerV2 runs the joiner's side of the hello exchange on a data
// connection and judges the donor's proof of the secret
// (xfer.AnswerAuth): a wrong one is refused, a missing one too with
// donor-auth=required (with auto it comes from the gtid stage's address,
// acceptFromDonor saw to that: an earlier release of this program as
// donor). A refused connection gives ok false, logged; the caller closes
// it and waits for another. Within the handshake bound.
func (s *session) answerV2(ctx context.Context, c transfer.Conn) (xfer.Hello, xfer.Version, bool, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(pipe.DefaultHandshakeTimeout))
	h, v, auth, err := xfer.AnswerAuth(c.RW(), xferVersions, s.tr.mySecret)
	_ = c.Conn.SetReadDeadline(time.Time{})
	addr := c.Conn.RemoteAddr().String()
	switch {
	case auth == xfer.AuthBad:
		s.refusals().add(addr, errors.New("its v2 hello carries a wrong proof of this joiner's secret"))
		return h, 0, false, nil
	case err != nil && errors.Is(err, xfer.ErrNoVersion):
		return h, 0, false, failure(ctx, fail.Transfer, "the v2 hello of the donor", err)
	case err != nil:
		s.refusals().add(addr, fmt.Errorf("its v2 hello: %w", err))
		return h, 0, false, nil
	case auth == xfer.AuthNone && s.tr.mySecret != "" && s.cfg.DonorAuth == "required":
		s.refusals().add(addr, errors.New("its v2 hello carries no proof of this joiner's secret (donor-auth=required; an earlier release of this program as donor cannot give one)"))
		return h, 0, false, nil
	}
	return h, v, true, nil
}

// hostOf is the IP address of a connection's remote end.
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
