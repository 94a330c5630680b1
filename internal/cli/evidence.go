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
)

// evidenceAccess is the flag group of commands that read evidence back from the forensic side
// (export, verify --rehash): each cloud's way to reach it.
type evidenceAccess struct {
	awsProfile  string
	awsRole     string
	awsEndpoint string
	caFile      string
}

func (f *evidenceAccess) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.awsProfile, "forensic-profile", "", "AWS: shared-config profile for the forensic account")
	cmd.Flags().StringVar(&f.awsRole, "forensic-role", "", "AWS: role ARN to assume in the forensic account")
	cmd.Flags().StringVar(&f.awsEndpoint, "endpoint", "", "endpoint override (the cloud range): AWS's for every service (AWS_ENDPOINT_URL works too), Azure Resource Manager's")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "Azure: PEM file of a CA to trust besides the system's (the cloud range's azure/ca.pem)")
}

// evidenceReaders open an item's snapshot for reading, by cloud.
var evidenceReaders = map[string]func(ctx context.Context, f *evidenceAccess, item evidence.Item) (driver.Driver, driver.BlockReader, error){
	"aws": func(ctx context.Context, f *evidenceAccess, item evidence.Item) (driver.Driver, driver.BlockReader, error) {
		d, err := awsdriver.New(ctx, awsdriver.Config{Region: item.Location, ForensicProfile: f.awsProfile, ForensicRole: f.awsRole,
			SourceProfile: f.awsProfile, ForensicAccount: item.Account, Endpoint: f.awsEndpoint})
		return d, d, err
	},
	"azure": azureEvidenceReader,
}

// named says whether the credentials to read an item were named: reading evidence back never falls
// to a default profile, which is usually the workload's own.
func (f *evidenceAccess) named(item evidence.Item) error {
	if item.Cloud == "aws" && f.awsProfile == "" && f.awsRole == "" {
		return errors.New("name the forensic account's credentials with --forensic-profile or --forensic-role (the default profile is not assumed)")
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
	d, r, err := newReader(ctx, f, item)
	if err != nil {
		return nil, usageErrorf(err)
	}
	src, err := r.OpenBlocks(ctx, item.DriverSnapshot())
	if err != nil {
		return nil, acquisitionError(driver.Wrap(d, "read", item.Snapshot, err))
	}
	return src, nil
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
