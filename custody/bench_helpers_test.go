package custody

import "github.com/secure-systems-lab/go-securesystemslib/dsse"

func dsseTestPAE(b *bundle) []byte {
	return dsse.PAE(b.DSSEEnvelope.PayloadType, b.DSSEEnvelope.Payload)
}
