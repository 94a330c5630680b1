package custody

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/timestamp-authority/v2/pkg/verification"
)

// TimestampAuthority asks an RFC 3161 time-stamping authority to time-stamp signatures, and checks
// each answer against the authority's certificates before it is stored.
type TimestampAuthority struct {
	url    string
	client *http.Client
	trust  TSATrust
}

// TSATrust holds the certificates a time-stamp must chain to.
type TSATrust struct {
	Roots         []*x509.Certificate
	Intermediates []*x509.Certificate
	PEM           []byte // as read, kept in the case so that it travels with the time-stamps
}

// ParseTSATrust splits a PEM bundle into self-signed roots and intermediates.
func ParseTSATrust(pemBytes []byte) (TSATrust, error) {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(pemBytes)
	if err != nil {
		return TSATrust{}, fmt.Errorf("reading time-stamping certificates: %w", err)
	}
	t := TSATrust{PEM: pemBytes}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			t.Roots = append(t.Roots, c)
		} else {
			t.Intermediates = append(t.Intermediates, c)
		}
	}
	if len(t.Roots) == 0 {
		return TSATrust{}, errors.New("time-stamping certificates hold no self-signed root")
	}
	return t, nil
}

// NewTimestampAuthority talks to the TSA at url (HTTP POST application/timestamp-query) and accepts
// only tokens that chain to trust. client may be nil.
func NewTimestampAuthority(url string, trust TSATrust, client *http.Client) *TimestampAuthority {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &TimestampAuthority{url: url, client: client, trust: trust}
}

// maxTimestampResponse bounds a TSA's answer.
const maxTimestampResponse = 64 << 10

// Timestamp returns a verified RFC 3161 time-stamp response over SHA-256 of data.
func (t *TimestampAuthority) Timestamp(ctx context.Context, data []byte) ([]byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	req, err := timestamp.CreateRequest(bytes.NewReader(data), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("building time-stamp request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("time-stamp request to %s: %w", t.url, err)
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := t.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("time-stamp request to %s: %w", t.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTimestampResponse))
	if err != nil {
		return nil, fmt.Errorf("reading time-stamp response from %s: %w", t.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("time-stamp authority %s answered %s", t.url, resp.Status)
	}
	if _, err := verifyTimestamp(body, data, t.trust, nonce); err != nil {
		return nil, fmt.Errorf("time-stamp from %s does not verify: %w", t.url, err)
	}
	return body, nil
}

// verifyTimestamp checks an RFC 3161 response: its signature and certificate chain (time-stamping
// usage, validity at the time it states), and that it covers SHA-256 of data. It returns that time.
func verifyTimestamp(tsr, data []byte, trust TSATrust, nonce *big.Int) (time.Time, error) {
	ts, err := verification.VerifyTimestampResponse(tsr, bytes.NewReader(data), verification.VerifyOpts{
		Roots:         trust.Roots,
		Intermediates: trust.Intermediates,
		Nonce:         nonce,
	})
	if err != nil {
		return time.Time{}, err
	}
	return ts.Time, nil
}

// tsaChainName names the file a TSA's certificates are kept in inside a case, by their digest.
func tsaChainName(pemBytes []byte) string {
	sum := sha256.Sum256(pemBytes)
	return "tsa/" + hex.EncodeToString(sum[:8]) + ".pem"
}
