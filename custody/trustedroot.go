package custody

import (
	"crypto/x509"
	"errors"

	commonpb "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	trustrootpb "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TrustedRootJSON writes a Sigstore trusted root (trusted_root.json) that names the time-stamping
// authorities in trust and nothing else: what cosign's --trusted-root needs to check a case's RFC 3161
// time-stamps offline with --use-signed-timestamps. The roots must come from the auditor's own copy of
// the authority's certificates, not from the case.
func TrustedRootJSON(trust TSATrust, uri string) ([]byte, error) {
	if len(trust.Roots) == 0 {
		return nil, errors.New("no time-stamping root certificate")
	}
	tr := &trustrootpb.TrustedRoot{MediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}
	for _, root := range trust.Roots {
		chain := &commonpb.X509CertificateChain{}
		for _, c := range trust.Intermediates {
			if c.CheckSignatureFrom(root) == nil {
				chain.Certificates = append(chain.Certificates, &commonpb.X509Certificate{RawBytes: c.Raw})
			}
		}
		chain.Certificates = append(chain.Certificates, &commonpb.X509Certificate{RawBytes: root.Raw})
		tr.TimestampAuthorities = append(tr.TimestampAuthorities, &trustrootpb.CertificateAuthority{
			Subject:   distinguishedName(root),
			Uri:       uri,
			CertChain: chain,
			ValidFor:  &commonpb.TimeRange{Start: timestamppb.New(root.NotBefore), End: timestamppb.New(root.NotAfter)},
		})
	}
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(tr)
}

func distinguishedName(c *x509.Certificate) *commonpb.DistinguishedName {
	dn := &commonpb.DistinguishedName{CommonName: c.Subject.CommonName}
	if len(c.Subject.Organization) > 0 {
		dn.Organization = c.Subject.Organization[0]
	}
	return dn
}
