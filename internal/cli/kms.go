package cli

// The KMS providers custody keys can live in, registered with sigstore's KMS registry. Each pulls in
// its cloud's SDK, which is why they are chosen here, in the program, and not in the custody package.
import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
)
