package cli

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	azuredriver "github.com/acquire-forensics/acquire/providers/azure"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// azureEvidenceReader reads an Azure evidence snapshot back through a read SAS, as the forensic
// principal named (--forensic-client-id), or DefaultAzureCredential when asked for
// (--forensic-default-credential): the subscription and resource group are the snapshot's.
func azureEvidenceReader(ctx context.Context, f *evidenceAccess, item evidence.Item) (*azuredriver.Driver, error) {
	rid, err := arm.ParseResourceID(item.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("the evidence snapshot %q is not an Azure resource ID: %w", item.Snapshot, err)
	}
	z := azureAccess{endpoint: f.awsEndpoint, caFile: f.caFile}
	cfg, client, err := z.cloudConfig()
	if err != nil {
		return nil, err
	}
	var cred azcore.TokenCredential
	if f.azureClientID != "" {
		cred, err = azurePrincipalCredential(f.azureClientID, f.azureCertificate, z.endpoint != "", cfg, client)
	} else {
		cred, err = z.credential(cfg, client)
	}
	if err != nil {
		return nil, fmt.Errorf("Azure credentials: %w", err)
	}
	// Only the forensic side is used: the source subscription is the evidence's own, never called.
	d, err := azuredriver.New(azuredriver.Config{SourceSubscription: rid.SubscriptionID, ForensicSubscription: rid.SubscriptionID,
		ForensicResourceGroup: rid.ResourceGroupName, SourceCredential: cred, ForensicCredential: cred, Cloud: cfg, HTTPClient: client})
	return d, err
}
