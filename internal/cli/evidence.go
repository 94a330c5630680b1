package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/termsafe"
	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
	gcpdriver "github.com/acquire-forensics/acquire/providers/gcp"
)

// evidenceAccess is the flag group of commands that read evidence back from the forensic side
// (export, verify --rehash): each cloud's way to reach it.
type evidenceAccess struct {
	awsProfile  string
	awsRole     string
	awsEndpoint string
	caFile      string
	// Azure: the forensic side's own service principal (as for `acquire azure`), or, when asked
	// for, DefaultAzureCredential.
	azureClientID    string
	azureCertificate string
	azureDefault     bool
	// Google Cloud: the forensic project's credentials file, or, when asked for, Application Default
	// Credentials (the same --forensic-default-credential).
	gcpCredentials string
}

func (f *evidenceAccess) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.awsProfile, "forensic-profile", "", "AWS: shared-config profile for the forensic account")
	cmd.Flags().StringVar(&f.awsRole, "forensic-role", "", "AWS: role ARN to assume in the forensic account")
	cmd.Flags().StringVar(&f.awsEndpoint, "endpoint", "", "endpoint override (the cloud range): AWS's for every service (AWS_ENDPOINT_URL works too), Azure Resource Manager's, Google Cloud's (Cloud Storage and the token endpoint)")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "Azure: PEM file of a CA to trust besides the system's (the cloud range's azure/ca.pem)")
	cmd.Flags().StringVar(&f.azureClientID, "forensic-client-id", "", "Azure: the forensic side's service principal (application ID, in AZURE_TENANT_ID), its secret in "+envForensicSecret+" or --forensic-certificate")
	cmd.Flags().StringVar(&f.azureCertificate, "forensic-certificate", "", "Azure: PEM file with the forensic principal's certificate and private key")
	cmd.Flags().StringVar(&f.gcpCredentials, "forensic-credentials", "", "Google Cloud: a service-account key or ADC file of the forensic project's principal, which reads the image bucket")
	cmd.Flags().BoolVar(&f.azureDefault, "forensic-default-credential", false, "read as the default credential, when that is the forensic side's: Azure's DefaultAzureCredential (environment, workload or managed identity, az login), Google Cloud's Application Default Credentials")
}

// evidenceReaders open an item's evidence for reading, by cloud: AWS and Azure read the snapshot
// itself, Google Cloud the raw image its digest worker wrote to the image bucket.
var evidenceReaders = map[string]func(ctx context.Context, f *evidenceAccess, item evidence.Item) (driver.BlockSource, error){
	"aws": func(ctx context.Context, f *evidenceAccess, item evidence.Item) (driver.BlockSource, error) {
		d, err := awsdriver.New(ctx, awsdriver.Config{Region: item.Location, ForensicProfile: f.awsProfile, ForensicRole: f.awsRole,
			SourceProfile: f.awsProfile, ForensicAccount: item.Account, Endpoint: f.awsEndpoint})
		if err != nil {
			return nil, usageErrorf(err)
		}
		return openSnapshot(ctx, d, d, item)
	},
	"azure": func(ctx context.Context, f *evidenceAccess, item evidence.Item) (driver.BlockSource, error) {
		d, err := azureEvidenceReader(ctx, f, item)
		if err != nil {
			return nil, usageErrorf(err)
		}
		return openSnapshot(ctx, d, d, item)
	},
	"gcp": func(ctx context.Context, f *evidenceAccess, item evidence.Item) (driver.BlockSource, error) {
		var image string
		if item.Digest != nil {
			image = item.Digest.Image
		}
		src, err := gcpdriver.OpenImage(ctx, gcpdriver.ImageAccess{CredentialsFile: f.gcpCredentials, Endpoint: f.awsEndpoint}, image, item.SizeBytes)
		return src, acquisitionError(err)
	},
}

// openSnapshot opens a snapshot through its driver's block reader.
func openSnapshot(ctx context.Context, d driver.Driver, r driver.BlockReader, item evidence.Item) (driver.BlockSource, error) {
	src, err := r.OpenBlocks(ctx, item.DriverSnapshot())
	if err != nil {
		return nil, acquisitionError(driver.Wrap(d, "read", item.Snapshot, err))
	}
	return src, nil
}

// named says whether the credentials to read an item were named: reading evidence back never falls
// to a default profile or credential, which is usually the one that acquired from the workload.
func (f *evidenceAccess) named(item evidence.Item) error {
	switch item.Cloud {
	case "aws":
		if f.awsProfile == "" && f.awsRole == "" {
			return errors.New("name the forensic account's credentials with --forensic-profile or --forensic-role (the default profile is not assumed)")
		}
	case "gcp":
		switch {
		case f.gcpCredentials != "" && f.azureDefault:
			return errors.New("--forensic-credentials and --forensic-default-credential name two credentials: give one")
		case f.gcpCredentials == "" && !f.azureDefault:
			return errors.New("name the forensic project's credentials with --forensic-credentials (a service-account key or ADC file), or ask for Application Default Credentials " +
				"with --forensic-default-credential (they are not assumed: they are usually the source side's)")
		}
	case "azure":
		if err := checkAzurePrincipal(f.azureClientID, f.azureCertificate); err != nil {
			return err
		}
		switch {
		case f.azureClientID != "" && f.azureDefault:
			return errors.New("--forensic-client-id and --forensic-default-credential name two credentials: give one")
		case f.azureClientID == "" && !f.azureDefault:
			return errors.New("name the forensic subscription's principal with --forensic-client-id (its secret in " + envForensicSecret +
				" or --forensic-certificate), or ask for DefaultAzureCredential with --forensic-default-credential (it is not assumed: it is usually the source side's)")
		}
	}
	return nil
}

// open opens an item's snapshot through its cloud's block reader. The caller closes it.
func (f *evidenceAccess) open(ctx context.Context, item evidence.Item) (driver.BlockSource, error) {
	newReader, ok := evidenceReaders[item.Cloud]
	if !ok {
		clouds := slices.Sorted(func(yield func(string) bool) {
			for c := range evidenceReaders {
				if !yield(c) {
					return
				}
			}
		})
		return nil, usageErrorf(fmt.Errorf("evidence of %q cannot be read back yet (this acquire reads %s evidence)", item.Cloud, strings.Join(clouds, ", ")))
	}
	if err := f.named(item); err != nil {
		return nil, usageErrorf(err)
	}
	return newReader(ctx, f, item)
}

// caseEvidence lists the evidence of a case from records the ledger verified.
func caseEvidence(ctx context.Context, l *custody.Ledger) ([]evidence.Item, error) {
	var recs []custody.Record
	if err := l.History(ctx, func(r custody.Record) error { recs = append(recs, r); return nil }); err != nil {
		return nil, withCode(ExitVerifyFailed, err)
	}
	return evidence.Items(recs)
}

// findEvidence picks the item a command names, with the exit code of what went wrong.
func findEvidence(items []evidence.Item, id string) (evidence.Item, error) {
	it, err := evidence.Find(items, id)
	switch {
	case errors.Is(err, evidence.ErrAmbiguous):
		return it, usageErrorf(err)
	case errors.Is(err, evidence.ErrUnknownItem):
		return it, withCode(ExitNotFound, err)
	}
	return it, err
}

// closeSource ends the access a block source was granted (Azure: endGetAccess). A failure is told, not
// hidden: the access then stays open until its own end time.
func (a *app) closeSource(ctx context.Context, it evidence.Item, src driver.BlockSource) {
	if err := src.Close(ctx); err != nil {
		fmt.Fprintf(a.Err, "acquire: warning: the read access to %s was not ended (%s); it lasts until it expires: %s\n",
			termsafe.String(it.Snapshot), termsafe.String(src.Info().Access), termsafe.String(err.Error()))
	}
}
