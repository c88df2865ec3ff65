package certauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"time"
)

// validate validates a client's certificate, certs[0], with the others as
// intermediates the client offered, at now. It answers from the cache when it
// can, and caches what passes.
func (p *Policy) validate(certs []*x509.Certificate, forwarded bool, now time.Time) (*Identity, *Error) {
	gen := p.generation(now)
	if id := p.cache.get(certs[0].Raw, forwarded, now, gen); id != nil {
		return id, nil
	}
	return p.validateMiss(certs, forwarded, gen, now)
}

// generation returns the generation of the CRLs in force, after reloading
// them if their check is due.
func (p *Policy) generation(now time.Time) uint64 {
	if p.crls == nil {
		return 0
	}
	p.crls.maybeReload(now)
	return p.crls.generation()
}

// validateMiss validates what the cache could not answer for, and caches
// the result if it passes.
func (p *Policy) validateMiss(certs []*x509.Certificate, forwarded bool, gen uint64, now time.Time) (*Identity, *Error) {
	res, err := p.verify(certs, forwarded, now)
	if err != nil {
		err.Subject, err.Forwarded = certs[0].Subject.String(), forwarded
		return nil, err
	}
	res.gen = gen
	p.cache.put(certs[0].Raw, forwarded, res, now)
	return res.id, nil
}

// verify does the whole validation, in ASP.NET's order: the kind of
// certificate, its validity period, its chain with the key usage, revocation,
// and last the user's callback.
func (p *Policy) verify(certs []*x509.Certificate, forwarded bool, now time.Time) (result, *Error) {
	leaf := certs[0]
	selfSigned := isSelfSigned(leaf)
	switch {
	case selfSigned && p.types&SelfSigned == 0:
		return result{}, &Error{Reason: ReasonSelfSigned}
	case !selfSigned && p.types&Chained == 0:
		return result{}, &Error{Reason: ReasonChained}
	case now.Before(leaf.NotBefore):
		return result{}, &Error{Reason: ReasonNotYetValid}
	case now.After(leaf.NotAfter):
		return result{}, &Error{Reason: ReasonExpired}
	}
	opts := x509.VerifyOptions{CurrentTime: now, KeyUsages: p.usages}
	if selfSigned {
		// Trusted as its own root: any self-signed certificate passes, as
		// in ASP.NET, and Validate decides which ones are welcome.
		opts.Roots = x509.NewCertPool()
		opts.Roots.AddCert(leaf)
	} else {
		opts.Roots = p.roots
		opts.Intermediates = p.intermediates
		if len(certs) > 1 {
			if opts.Intermediates != nil {
				opts.Intermediates = opts.Intermediates.Clone()
			} else {
				opts.Intermediates = x509.NewCertPool()
			}
			for _, c := range certs[1:] {
				opts.Intermediates.AddCert(c)
			}
		}
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		reason := ReasonUntrusted
		if inv, ok := errors.AsType[x509.CertificateInvalidError](err); ok && inv.Reason == x509.IncompatibleUsage {
			reason = ReasonNotForClientAuth
		}
		return result{}, &Error{Reason: reason, Err: err}
	}
	chain, until, cerr := p.revocation(chains, now)
	if cerr != nil {
		return result{}, cerr
	}
	res := result{notBefore: leaf.NotBefore, notAfter: leaf.NotAfter}
	for _, c := range chain {
		if c.NotBefore.After(res.notBefore) {
			res.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(res.notAfter) {
			res.notAfter = c.NotAfter
		}
	}
	if !until.IsZero() && until.Before(res.notAfter) {
		res.notAfter = until
	}
	res.id = &Identity{
		Certificate: leaf,
		Chain:       chain,
		Fingerprint: sha256.Sum256(leaf.Raw),
		Subject:     leaf.Subject.String(),
		SelfSigned:  selfSigned,
		Forwarded:   forwarded,
	}
	if p.validateFn != nil {
		if err := p.validateFn(res.id); err != nil {
			return result{}, &Error{Reason: ReasonCallback, Err: err}
		}
	}
	return res, nil
}

// revocation returns the first of chains that no CRL revokes, and until when
// that holds; or the refusal of the first chain.
func (p *Policy) revocation(chains [][]*x509.Certificate, now time.Time) ([]*x509.Certificate, time.Time, *Error) {
	if p.crls == nil {
		return chains[0], time.Time{}, nil
	}
	var first Reason
	for i, chain := range chains {
		reason, refused, until := p.crls.check(chain, now)
		if !refused {
			return chain, until, nil
		}
		if i == 0 {
			first = reason
		}
	}
	return nil, time.Time{}, &Error{Reason: first}
}

// isSelfSigned reports whether c names itself as issuer and its own key
// verifies its signature. Unlike CheckSignatureFrom it does not ask c to be a
// certificate authority: self-signed client certificates seldom are.
func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
