package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/cobra"

	azuredriver "github.com/acquire-forensics/acquire/providers/azure"
	"github.com/acquire-forensics/acquire/providers/driver"
)

// azureOptions is the flag group of `acquire azure`.
type azureOptions struct {
	acquireOptions
	azureAccess
	subscription          string
	resourceGroup         string
	vm                    []string
	disk                  []string
	forensicSubscription  string
	forensicResourceGroup string
	forensicLocation      string
	forensicDES           string
	forensicClientID      string
	forensicCertificate   string
}

// envForensicSecret holds the forensic principal's client secret, when --forensic-client-id names one.
const envForensicSecret = "AZURE_FORENSIC_CLIENT_SECRET"

// azureAccess is how Azure is reached: the Resource Manager endpoint and a CA for the cloud range;
// credentials are azidentity's DefaultAzureCredential (AZURE_TENANT_ID, AZURE_CLIENT_ID and
// AZURE_CLIENT_SECRET or a certificate, AZURE_AUTHORITY_HOST, workload and managed identity, az).
type azureAccess struct {
	endpoint string
	caFile   string
}

func (z *azureAccess) addFlags(cmd *cobra.Command, prefix string) {
	cmd.Flags().StringVar(&z.endpoint, "endpoint", "", prefix+"Azure Resource Manager endpoint (the cloud range; Entra ID at AZURE_AUTHORITY_HOST)")
	cmd.Flags().StringVar(&z.caFile, "ca-file", "", prefix+"PEM file of a CA to trust besides the system's (the cloud range's azure/ca.pem)")
}

// cloudConfig is the cloud to reach, with a client that trusts the CA file.
func (z *azureAccess) cloudConfig() (cloud.Configuration, *http.Client, error) {
	cfg := cloud.AzurePublic
	if z.endpoint != "" {
		if !strings.HasPrefix(z.endpoint, "https://") {
			return cfg, nil, errors.New("--endpoint must be an https URL: Azure's bearer tokens are never sent over plain http")
		}
		authority := os.Getenv("AZURE_AUTHORITY_HOST")
		if authority == "" {
			authority = strings.TrimSuffix(z.endpoint, "/") + "/"
		}
		cfg = cloud.Configuration{ActiveDirectoryAuthorityHost: authority, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: strings.TrimSuffix(z.endpoint, "/"), Audience: "https://management.core.windows.net/"}}}
	}
	if z.caFile == "" {
		return cfg, nil, nil
	}
	pem, err := os.ReadFile(z.caFile)
	if err != nil {
		return cfg, nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return cfg, nil, fmt.Errorf("--ca-file %s holds no PEM certificate", z.caFile)
	}
	return cfg, &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{Timeout: azureDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: azureTLSTimeout, ResponseHeaderTimeout: azureHeaderTimeout, IdleConnTimeout: 90 * time.Second}}, nil
}

// Bounds of the transport: a connection, handshake or answer that never comes fails as a transport
// error the SDK retries, instead of hanging the run (bodies are bounded per read by the driver).
const (
	azureDialTimeout   = 30 * time.Second
	azureTLSTimeout    = 15 * time.Second
	azureHeaderTimeout = 2 * time.Minute
)

// credential is DefaultAzureCredential for the cloud; a custom cloud (the range, a private cloud)
// skips instance discovery, which asks login.microsoftonline.com about the authority.
func (z *azureAccess) credential(cfg cloud.Configuration, client *http.Client) (azcore.TokenCredential, error) {
	o := &azidentity.DefaultAzureCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cfg}, DisableInstanceDiscovery: z.endpoint != ""}
	if client != nil {
		o.ClientOptions.Transport = client
	}
	return azidentity.NewDefaultAzureCredential(o)
}

func newAzureCmd(a *app) *cobra.Command {
	var o azureOptions
	cmd := &cobra.Command{
		Use:   "azure",
		Short: "Acquire Azure VMs or managed disks into an isolated forensic subscription",
		Long: `Acquire Azure virtual machines (OS and data disks) or managed disks into a forensic subscription:
capture the configuration (VM, instance view, network interfaces and security groups, managed
identities, disks and their encryption), report disks and snapshots of them with an open SAS, make a
full snapshot of each disk straight in the forensic resource group (nothing is created in the source
subscription), optionally lock it (CanNotDelete), digest its content through a short read SAS that is
ended after, and seal the case. Every step is a signed custody record.

By default each disk is snapshotted on its own. --consistency crash-consistent takes a VM's disks at one
moment through a crash-consistent VM restore point: it writes a restore point collection and a restore
point into the source subscription (at most one such restore point of a VM an hour; not for Ultra or
Premium SSD v2 disks), restores each disk restore point as a disk in the forensic resource group and
snapshots that disk; the restore point and the restored disks are recorded and removed once the
snapshots are complete.

Running the same command again for the same case continues where it stopped; other arguments for a
case that holds an acquisition are refused, unless --new-acquisition.

Credentials come from azidentity's DefaultAzureCredential (environment variables, workload identity,
managed identity, the az CLI's login). ` + "`acquire iam azure`" + ` prints the least-privilege custom roles.`,
		Example: `  acquire azure --case IR-42/ --subscription 3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b01 --resource-group rg-web --vm web-1 \
    --forensic-subscription 3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b02 --forensic-resource-group rg-evidence \
    --forensic-disk-encryption-set des-evidence --key custody.key --ticket IR-42`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("lock-days") {
				o.lockDays = 0 // management locks do not expire
			}
			return o.run(cmd.Context(), a)
		},
	}
	f := cmd.Flags()
	o.acquireOptions.addFlags(cmd, "lock the evidence against deletion: CanNotDelete (a management lock; anyone with Microsoft.Authorization/locks/* can remove it)")
	o.azureAccess.addFlags(cmd, "")
	f.StringVar(&o.subscription, "subscription", "", "the source subscription ID (required)")
	f.StringVar(&o.resourceGroup, "resource-group", "", "the resource group of --vm and --disk names")
	f.StringArrayVar(&o.vm, "vm", nil, "a VM name in --resource-group, or its resource ID: its OS and data disks (repeatable)")
	f.StringArrayVar(&o.disk, "disk", nil, "a managed disk name in --resource-group, or its resource ID (repeatable)")
	f.StringVar(&o.forensicSubscription, "forensic-subscription", "", "the isolated forensic subscription ID (required)")
	f.StringVar(&o.forensicResourceGroup, "forensic-resource-group", "", "the forensic resource group the evidence goes to; it must exist (required)")
	f.StringVar(&o.forensicLocation, "forensic-location", "", "the region of the evidence: the disks' own (Azure copies into another subscription within a region only)")
	f.StringVar(&o.forensicClientID, "forensic-client-id", "", "the forensic side's own service principal (application ID, same tenant), its secret in "+envForensicSecret+" or --forensic-certificate (default: the source side's credential)")
	f.StringVar(&o.forensicCertificate, "forensic-certificate", "", "PEM file with the forensic principal's certificate and private key")
	f.StringVar(&o.forensicDES, "forensic-disk-encryption-set", "", "a disk encryption set of the forensic subscription for the evidence: a name in --forensic-resource-group or a resource ID (default: platform-managed keys)")
	return cmd
}

var guidRule = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// nameRule is what Azure allows in resource group, VM, disk and encryption set names.
// (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules)
var nameRule = regexp.MustCompile(`^[A-Za-z0-9_.()-]{1,90}$`)

func (o *azureOptions) check() error {
	if err := o.acquireOptions.check(); err != nil {
		return err
	}
	switch {
	case len(o.vm) == 0 && len(o.disk) == 0:
		return errors.New("nothing to acquire: give --vm or --disk")
	case !guidRule.MatchString(o.subscription):
		return fmt.Errorf("--subscription %q is not a subscription ID (a GUID)", o.subscription)
	case !guidRule.MatchString(o.forensicSubscription):
		return fmt.Errorf("--forensic-subscription %q is not a subscription ID (a GUID)", o.forensicSubscription)
	case strings.EqualFold(o.subscription, o.forensicSubscription):
		return errors.New("--forensic-subscription is the source subscription: the evidence must leave the compromised subscription")
	case !nameRule.MatchString(o.forensicResourceGroup):
		return fmt.Errorf("--forensic-resource-group %q is not a resource group name", o.forensicResourceGroup)
	case o.lockMode != "" && o.lockCoolOff != 0:
		return errors.New("--lock-cool-off-hours: Azure management locks have no cool-off period")
	}
	if err := checkAzurePrincipal(o.forensicClientID, o.forensicCertificate); err != nil {
		return err
	}
	for _, n := range append(append([]string(nil), o.vm...), o.disk...) {
		if !strings.HasPrefix(n, "/") && o.resourceGroup == "" {
			return fmt.Errorf("%q is a name: give --resource-group, or the full resource ID", n)
		}
		if !strings.HasPrefix(n, "/") && !nameRule.MatchString(n) {
			return fmt.Errorf("%q is not an Azure resource name", n)
		}
		if err := o.checkSourceID(n); err != nil {
			return err
		}
	}
	if o.resourceGroup != "" && !nameRule.MatchString(o.resourceGroup) {
		return fmt.Errorf("--resource-group %q is not a resource group name", o.resourceGroup)
	}
	return nil
}

// checkSourceID refuses a resource ID outside --subscription: the records name the source
// subscription, and the forensic subscription's own disks are never a source.
func (o *azureOptions) checkSourceID(id string) error {
	if !strings.HasPrefix(id, "/") {
		return nil
	}
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return fmt.Errorf("%q is not an Azure resource ID (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Compute/TYPE/NAME): %w", id, err)
	}
	switch {
	case strings.EqualFold(rid.SubscriptionID, o.forensicSubscription):
		return fmt.Errorf("%s is in the forensic subscription (--forensic-subscription): only resources of --subscription %s can be acquired", id, o.subscription)
	case !strings.EqualFold(rid.SubscriptionID, o.subscription):
		return fmt.Errorf("%s is in subscription %s, not --subscription %s: acquire it in a run with --subscription %s", id, rid.SubscriptionID, o.subscription, rid.SubscriptionID)
	}
	return nil
}

// resourceID makes a name in the source resource group a resource ID; an ID passes unchanged.
func (o *azureOptions) resourceID(kind, name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/%s/%s", o.subscription, o.resourceGroup, kind, name)
}

func (o *azureOptions) run(ctx context.Context, a *app) error {
	if err := o.check(); err != nil {
		return usageErrorf(err)
	}
	logger, closeLog, err := o.logger(a)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg, client, err := o.cloudConfig()
	if err != nil {
		return usageErrorf(err)
	}
	cred, err := o.credential(cfg, client)
	if err != nil {
		return usageErrorf(fmt.Errorf("Azure credentials: %w", err))
	}
	forensicCred, err := o.forensicCredential(cfg, client)
	if err != nil {
		return usageErrorf(err)
	}
	des := o.forensicDES
	if des != "" && !strings.HasPrefix(des, "/") {
		des = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/diskEncryptionSets/%s", o.forensicSubscription, o.forensicResourceGroup, des)
	}
	d, err := azuredriver.New(azuredriver.Config{
		SourceSubscription: o.subscription, ForensicSubscription: o.forensicSubscription, ForensicResourceGroup: o.forensicResourceGroup,
		ForensicDiskEncryptionSet: des, SourceCredential: cred, ForensicCredential: forensicCred, Cloud: cfg, HTTPClient: client, PollFrequency: o.poll, Logger: logger,
	})
	if err != nil {
		return usageErrorf(err)
	}
	var target driver.Target
	for _, v := range o.vm {
		target.Workloads = append(target.Workloads, o.resourceID("virtualMachines", v))
	}
	for _, v := range o.disk {
		target.Volumes = append(target.Volumes, o.resourceID("disks", v))
	}
	opts := o.engineOptions(target, driver.Destination{Account: o.forensicSubscription, Location: o.forensicLocation, Key: des})
	opts.Logger = logger
	opts.Settings = map[string]string{"forensic resource group": o.forensicResourceGroup}
	crash := driver.Consistency(o.consistency) == driver.CrashConsistent
	return a.acquire(ctx, &o.acquireOptions, d, opts, func(side driver.Side) [][2]string { return azuredriver.ExplainFor(side, crash) })
}

// forensicCredential is the forensic side's own service principal, when one is named.
func (o *azureOptions) forensicCredential(cfg cloud.Configuration, client *http.Client) (azcore.TokenCredential, error) {
	if o.forensicClientID == "" {
		return nil, nil
	}
	return azurePrincipalCredential(o.forensicClientID, o.forensicCertificate, o.endpoint != "", cfg, client)
}

// azurePrincipalCredential signs in as a service principal of the tenant of AZURE_TENANT_ID (a copy
// across tenants fails), with a certificate file, or else the client secret in envForensicSecret.
// A custom cloud skips instance discovery.
func azurePrincipalCredential(clientID, certFile string, customCloud bool, cfg cloud.Configuration, client *http.Client) (azcore.TokenCredential, error) {
	tenant := os.Getenv("AZURE_TENANT_ID")
	if tenant == "" {
		return nil, errors.New("--forensic-client-id needs AZURE_TENANT_ID: the tenant both principals belong to")
	}
	co := azcore.ClientOptions{Cloud: cfg}
	if client != nil {
		co.Transport = client
	}
	if certFile != "" {
		data, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("--forensic-certificate: %w", err)
		}
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, fmt.Errorf("--forensic-certificate %s: %w", certFile, err)
		}
		return azidentity.NewClientCertificateCredential(tenant, clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: customCloud})
	}
	secret := os.Getenv(envForensicSecret)
	if secret == "" {
		return nil, fmt.Errorf("--forensic-client-id needs its secret in %s, or --forensic-certificate", envForensicSecret)
	}
	return azidentity.NewClientSecretCredential(tenant, clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: customCloud})
}

// checkAzurePrincipal checks the flags that name the forensic side's service principal.
func checkAzurePrincipal(clientID, certFile string) error {
	switch {
	case clientID != "" && !guidRule.MatchString(clientID):
		return fmt.Errorf("--forensic-client-id %q is not an application (client) ID (a GUID)", clientID)
	case certFile != "" && clientID == "":
		return errors.New("--forensic-certificate goes with --forensic-client-id")
	}
	return nil
}

// newIAMAzureCmd prints the custom roles of `acquire azure`.
func newIAMAzureCmd(a *app) *cobra.Command {
	var src, forensic, rg, consistency string
	cmd := &cobra.Command{
		Use:   "azure",
		Short: "Custom Azure roles for the source and forensic principals of `acquire azure`",
		Long: `Print the least-privilege custom roles of ` + "`acquire azure`" + `, each as the JSON
` + "`az role definition create --role-definition @FILE`" + ` reads, with where to assign it and why each
action is there: a reader of the source subscription; a collector in the forensic resource group; and
the collector's right to copy the source disks (ARM checks Microsoft.Compute/disks/beginGetAccess/action
on each source disk, answering LinkedAuthorizationFailed without it). With --consistency crash-consistent,
also the source side's right to write a VM restore point (and remove it), the collector's to restore disks
from its disk restore points in the forensic resource group, and the linked beginGetAccess on them.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consistency != "" && consistency != string(driver.CrashConsistent) && consistency != string(driver.PerVolume) {
				return usageErrorf(fmt.Errorf("--consistency %q: use crash-consistent or per-volume", consistency))
			}
			roles := azuredriver.Roles(src, forensic, rg, consistency == string(driver.CrashConsistent))
			if a.json() {
				return a.emit(roles)
			}
			for _, r := range roles {
				def, err := r.JSON()
				if err != nil {
					return err
				}
				a.printf("# %s side: %q, to assign at %s\n", r.Side, r.Definition.Name, r.AssignAt)
				for _, act := range append(append([]string(nil), r.Definition.Actions...), r.Definition.DataActions...) {
					a.printf("#   %-58s %s\n", act, r.Reasons[act])
				}
				a.printf("%s\n\n", def)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&src, "subscription", "SOURCE_SUBSCRIPTION_ID", "the source subscription, for the roles' assignable scopes")
	cmd.Flags().StringVar(&forensic, "forensic-subscription", "FORENSIC_SUBSCRIPTION_ID", "the forensic subscription")
	cmd.Flags().StringVar(&rg, "forensic-resource-group", "FORENSIC_RESOURCE_GROUP", "the forensic resource group")
	cmd.Flags().StringVar(&consistency, "consistency", "", "crash-consistent: add what `acquire azure --consistency crash-consistent` needs (a restore point in the source subscription)")
	return cmd
}
