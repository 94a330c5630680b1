package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/internal/version"
)

// Environment variables acquire reads.
const (
	envKey      = "ACQUIRE_KEY"      // the custody signing key: a private key file or a KMS URI
	envPassword = "ACQUIRE_PASSWORD" // the password of an encrypted private key file
	envOperator = "ACQUIRE_OPERATOR" // who is running acquire, for the records
)

// signingOptions is the flag group of every command that writes custody records.
type signingOptions struct {
	key           string
	tsaURL        string
	tsaRoots      string
	operator      string
	ticket        string
	justification string
	approver      string
}

func (o *signingOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "custody signing key: a private key file or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://); default $"+envKey)
	f.StringVar(&o.tsaURL, "tsa", "", "RFC 3161 time-stamping authority URL: time-stamp every signature")
	f.StringVar(&o.tsaRoots, "tsa-roots", "", "PEM file of the time-stamping authority's certificates (required with --tsa)")
	f.StringVar(&o.operator, "operator", "", "who is running acquire, for the records; default $"+envOperator+" or the login name")
	f.StringVar(&o.ticket, "ticket", "", "authority: the ticket, warrant or legal hold this work is done under")
	f.StringVar(&o.justification, "justification", "", "authority: why this work is done")
	f.StringVar(&o.approver, "approver", "", "authority: who approved it")
}

// ledgerOptions loads the signing key and the time-stamping authority. Nothing is written yet, so a bad
// key, password or URL fails before any record exists.
func (o *signingOptions) ledgerOptions(ctx context.Context, a *app) (custody.Options, error) {
	ref := o.key
	if ref == "" {
		ref = a.env(envKey)
	}
	if ref == "" {
		return custody.Options{}, usageErrorf(errors.New("no custody signing key: give --key or set " + envKey + " (make one with `acquire keygen`)"))
	}
	signer, err := custody.LoadSigner(ctx, ref, a.passFunc(ref))
	if err != nil {
		return custody.Options{}, err
	}
	opts := custody.Options{Signer: signer, Operator: o.operatorName(a), Tool: version.Tool()}
	if o.ticket != "" || o.justification != "" || o.approver != "" {
		opts.Authority = &custody.Authority{Ticket: o.ticket, Justification: o.justification, Approver: o.approver}
	}
	if o.tsaURL != "" || o.tsaRoots != "" {
		if o.tsaURL == "" || o.tsaRoots == "" {
			return custody.Options{}, usageErrorf(errors.New("--tsa and --tsa-roots go together: the authority's answers are checked against its roots before they are stored"))
		}
		pemBytes, err := os.ReadFile(o.tsaRoots)
		if err != nil {
			return custody.Options{}, fmt.Errorf("--tsa-roots: %w", err)
		}
		trust, err := custody.ParseTSATrust(pemBytes)
		if err != nil {
			return custody.Options{}, usageErrorf(fmt.Errorf("--tsa-roots %s: %w", o.tsaRoots, err))
		}
		opts.TSA = custody.NewTimestampAuthority(o.tsaURL, trust, nil)
	}
	return opts, nil
}

// openCase loads the signing options and opens an existing case for appending. The caller closes it.
func (o *signingOptions) openCase(ctx context.Context, a *app, dir string) (*custody.Ledger, error) {
	opts, err := o.ledgerOptions(ctx, a)
	if err != nil {
		return nil, err
	}
	return custody.Open(ctx, dir, opts)
}

func (o *signingOptions) operatorName(a *app) string {
	if o.operator != "" {
		return o.operator
	}
	if v := a.env(envOperator); v != "" {
		return v
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if host, err := os.Hostname(); err == nil {
		name += "@" + host
	}
	return name
}

// passFunc returns the password of an encrypted key: from $ACQUIRE_PASSWORD when set (even empty), or
// asked on the terminal. Without either, it fails rather than wait for input that cannot come.
func (a *app) passFunc(what string) custody.PassFunc {
	return func(confirm bool) ([]byte, error) {
		if pw, ok := a.lookupEnv(envPassword); ok {
			return []byte(pw), nil
		}
		f, ok := a.In.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, usageErrorf(fmt.Errorf("%s needs a password: set %s or run on a terminal", what, envPassword))
		}
		fmt.Fprintf(a.Err, "Password for %s: ", what)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.Err)
		if err != nil {
			return nil, err
		}
		if confirm {
			fmt.Fprintf(a.Err, "Same password again: ")
			again, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.Err)
			if err != nil {
				return nil, err
			}
			if string(again) != string(pw) {
				return nil, usageErrorf(errors.New("the passwords differ"))
			}
		}
		return pw, nil
	}
}
