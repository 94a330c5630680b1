package awssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Scenario is the starting state of the simulated AWS: accounts with their
// users, roles and KMS keys, and volumes and instances in any region. It is
// written as JSON (see README.md for a complete example); file paths are
// relative to the scenario file's directory.
//
//	{
//	  "seed": 1,
//	  "snapshotBytesPerSecond": 104857600,
//	  "accounts": [{
//	    "id": "111111111111", "name": "workload",
//	    "users": [{"name": "responder", "accessKeyId": "AKIA...", "secretAccessKey": "...",
//	               "allow": ["ec2:*", "kms:*", "ebs:*", "sts:*"]}],
//	    "roles": [{"name": "Forensics", "trust": ["222222222222"]}],
//	    "keys": [{"id": "<uuid>", "region": "us-east-1", "alias": "alias/case",
//	              "usage": "ENCRYPT_DECRYPT", "policy": {...}}],
//	    "volumes": [{"id": "vol-...", "region": "us-east-1", "availabilityZone": "us-east-1a",
//	                 "sizeGiB": 8, "image": "disks/root.img", "encrypted": true}],
//	    "instances": [{"id": "i-...", "region": "us-east-1", "availabilityZone": "us-east-1a",
//	                   "instanceType": "t3.micro", "iamInstanceProfile": "web",
//	                   "securityGroups": [{"id": "sg-...", "name": "web"}],
//	                   "userData": "#!/bin/sh\n...",
//	                   "volumes": [{"volumeId": "vol-...", "device": "/dev/xvda", "deleteOnTermination": true}]}]
//	  }],
//	  "faults": {"throttleDescribeRate": 0.1, "seed": 7}
//	}
type Scenario struct {
	// Seed makes resource IDs reproducible.
	Seed int64 `json:"seed,omitempty"`
	// SnapshotBytesPerSecond paces snapshots and copies: a snapshot of a disk
	// with N written blocks completes after N*512KiB / rate. Zero means
	// DefaultSnapshotBytesPerSecond; negative means instantly.
	SnapshotBytesPerSecond int64 `json:"snapshotBytesPerSecond,omitempty"`
	// GetSnapshotBlockPerSecond is the per-snapshot GetSnapshotBlock quota.
	// Zero means DefaultGetSnapshotBlockPerSecond; negative means no limit.
	GetSnapshotBlockPerSecond float64           `json:"getSnapshotBlockPerSecond,omitempty"`
	Accounts                  []ScenarioAccount `json:"accounts"`
	Faults                    Faults            `json:"faults,omitempty"`

	// baseDir resolves relative image paths.
	baseDir string
}

// ScenarioAccount is one AWS account.
type ScenarioAccount struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"` // profile name in generated AWS config
	// EncryptionByDefault lists regions where new volumes and copies are
	// encrypted by default.
	EncryptionByDefault []string           `json:"encryptionByDefault,omitempty"`
	Users               []ScenarioUser     `json:"users,omitempty"`
	Roles               []ScenarioRole     `json:"roles,omitempty"`
	Keys                []ScenarioKey      `json:"keys,omitempty"`
	Volumes             []ScenarioVolume   `json:"volumes,omitempty"`
	Instances           []ScenarioInstance `json:"instances,omitempty"`
}

// ScenarioUser is an IAM user with one access key. Allow is the list of
// actions ("ec2:CreateSnapshot", "kms:*") it may call; omitted means all.
type ScenarioUser struct {
	Name            string   `json:"name"`
	AccessKeyID     string   `json:"accessKeyId"`
	SecretAccessKey string   `json:"secretAccessKey"`
	Allow           []string `json:"allow,omitempty"`
}

// ScenarioRole is an IAM role. Trust lists who may assume it: account IDs,
// account root ARNs, user or role ARNs.
type ScenarioRole struct {
	Name  string   `json:"name"`
	Trust []string `json:"trust"`
	Allow []string `json:"allow,omitempty"`
	// MaxSessionDuration is the longest session, in seconds, AssumeRole
	// grants for the role: 3600 (the default) to 43200.
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html
	MaxSessionDuration int32 `json:"maxSessionDuration,omitempty"`
}

// ScenarioKey is a customer managed KMS key.
type ScenarioKey struct {
	ID          string          `json:"id"`
	Region      string          `json:"region"`
	Alias       string          `json:"alias,omitempty"`
	Description string          `json:"description,omitempty"`
	Usage       string          `json:"usage,omitempty"` // ENCRYPT_DECRYPT (default) | SIGN_VERIFY
	Spec        string          `json:"spec,omitempty"`  // SYMMETRIC_DEFAULT (default) | ECC_NIST_P256 | ECC_NIST_P384
	Policy      json.RawMessage `json:"policy,omitempty"`
	// PrivateKeyPEM fixes a SIGN_VERIFY key's material (PKCS#8 or SEC 1).
	PrivateKeyPEM string `json:"privateKeyPem,omitempty"`
}

// ScenarioVolume is an EBS volume. Its content is Image (a raw, usually
// sparse, disk image), or Synthetic blocks, or nothing (all zeros).
type ScenarioVolume struct {
	ID               string            `json:"id"`
	Region           string            `json:"region"`
	AvailabilityZone string            `json:"availabilityZone,omitempty"`
	SizeGiB          int32             `json:"sizeGiB,omitempty"`
	VolumeType       string            `json:"volumeType,omitempty"`
	Image            string            `json:"image,omitempty"`
	Synthetic        *SyntheticContent `json:"synthetic,omitempty"`
	Encrypted        bool              `json:"encrypted,omitempty"`
	KMSKeyID         string            `json:"kmsKeyId,omitempty"` // key ID, ARN or alias; default aws/ebs
	Tags             map[string]string `json:"tags,omitempty"`
}

// SyntheticContent fills the listed 512 KiB blocks with pseudo-random bytes
// drawn from Seed.
type SyntheticContent struct {
	Blocks []int32 `json:"blocks"`
	Seed   uint64  `json:"seed,omitempty"`
}

// ScenarioInstance is an EC2 instance with its attached volumes.
type ScenarioInstance struct {
	ID                 string               `json:"id"`
	Region             string               `json:"region"`
	AvailabilityZone   string               `json:"availabilityZone,omitempty"`
	InstanceType       string               `json:"instanceType,omitempty"`
	ImageID            string               `json:"imageId,omitempty"`
	State              string               `json:"state,omitempty"` // running (default) | stopped
	RootDeviceName     string               `json:"rootDeviceName,omitempty"`
	PrivateIPAddress   string               `json:"privateIpAddress,omitempty"`
	VpcID              string               `json:"vpcId,omitempty"`
	SubnetID           string               `json:"subnetId,omitempty"`
	IAMInstanceProfile string               `json:"iamInstanceProfile,omitempty"`
	SecurityGroups     []securityGroup      `json:"securityGroups,omitempty"`
	UserData           string               `json:"userData,omitempty"`
	Tags               map[string]string    `json:"tags,omitempty"`
	Volumes            []ScenarioAttachment `json:"volumes,omitempty"`
}

// ScenarioAttachment attaches a volume of the same account to an instance.
type ScenarioAttachment struct {
	VolumeID            string `json:"volumeId"`
	Device              string `json:"device"`
	DeleteOnTermination bool   `json:"deleteOnTermination,omitempty"`
}

// LoadScenario reads a scenario file. If the file is a cloud-range scenario
// (an object with an "aws" member), the "aws" member is used.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wrapper struct {
		AWS json.RawMessage `json:"aws"`
	}
	if err := json.Unmarshal(data, &wrapper); err == nil && len(wrapper.AWS) > 0 {
		data = wrapper.AWS
	}
	return ParseScenario(data, filepath.Dir(path))
}

// ParseScenario decodes a scenario; baseDir resolves relative image paths.
func ParseScenario(data []byte, baseDir string) (*Scenario, error) {
	var sc Scenario
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc.baseDir = baseDir
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Validate refuses every value outside what the scenario format allows, naming the field (as a path
// into the scenario's JSON) and the allowed range. New validates the scenario it is given too.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("scenario: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	for i, a := range sc.Accounts {
		at := fmt.Sprintf("accounts[%d]", i)
		for j, r := range a.Roles {
			// "This setting can have a value from 1 hour to 12 hours."
			// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html
			if d := r.MaxSessionDuration; d != 0 && (d < 3600 || d > maxSessionSeconds) {
				bad(fmt.Sprintf("%s.roles[%d].maxSessionDuration", at, j), "%d is outside 3600 to %d seconds (omit it for 3600)", d, maxSessionSeconds)
			}
		}
		for j, k := range a.Keys {
			field := fmt.Sprintf("%s.keys[%d]", at, j)
			if k.Usage != "" && k.Usage != "ENCRYPT_DECRYPT" && k.Usage != "SIGN_VERIFY" {
				bad(field+".usage", "%q is not ENCRYPT_DECRYPT or SIGN_VERIFY", k.Usage)
			}
			if k.Spec != "" && k.Spec != "SYMMETRIC_DEFAULT" && k.Spec != "ECC_NIST_P256" && k.Spec != "ECC_NIST_P384" {
				bad(field+".spec", "%q is not SYMMETRIC_DEFAULT, ECC_NIST_P256 or ECC_NIST_P384", k.Spec)
			}
		}
		for j, v := range a.Volumes {
			field := fmt.Sprintf("%s.volumes[%d]", at, j)
			// CreateVolume: "Size ... 1-16,384 ... io2: 4-65,536" GiB; the largest any type takes.
			// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
			if v.SizeGiB < 0 || v.SizeGiB > maxVolumeGiB {
				bad(field+".sizeGiB", "%d is outside 1 to %d GiB (omit it for 1)", v.SizeGiB, maxVolumeGiB)
			}
			if v.VolumeType != "" && !slices.Contains(volumeTypes, v.VolumeType) {
				bad(field+".volumeType", "%q is not one of %s", v.VolumeType, strings.Join(volumeTypes, ", "))
			}
			if syn := v.Synthetic; syn != nil {
				size := max(v.SizeGiB, 1)
				blocks := int64(size) * gib / BlockSize
				for k, b := range syn.Blocks {
					if b < 0 || int64(b) >= blocks {
						bad(fmt.Sprintf("%s.synthetic.blocks[%d]", field, k), "%d is outside 0 to %d, the 512 KiB blocks of a %d GiB volume", b, blocks-1, size)
					}
				}
			}
		}
		for j, in := range a.Instances {
			field := fmt.Sprintf("%s.instances[%d]", at, j)
			if in.State != "" && in.State != "running" && in.State != "stopped" {
				bad(field+".state", "%q is not running or stopped", in.State)
			}
			for k, att := range in.Volumes {
				if att.Device == "" {
					bad(fmt.Sprintf("%s.volumes[%d].device", field, k), "is required (such as /dev/xvda)")
				}
			}
		}
	}
	if sc.GetSnapshotBlockPerSecond != 0 && (math.IsNaN(sc.GetSnapshotBlockPerSecond) || math.IsInf(sc.GetSnapshotBlockPerSecond, 0)) {
		bad("getSnapshotBlockPerSecond", "%v is not a number of requests per second", sc.GetSnapshotBlockPerSecond)
	}
	if err := sc.Faults.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// maxVolumeGiB is the largest EBS volume of any type (io2 Block Express).
const maxVolumeGiB = 65536

// volumeTypes are the EBS volume types.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
var volumeTypes = []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}

// Validate refuses fault rates outside 0 to 1, negative durations and action names that are not
// service:Action.
func (f Faults) Validate() error {
	var errs []error
	for name, rate := range map[string]float64{
		"throttleMutatingRate": f.ThrottleMutatingRate, "throttleDescribeRate": f.ThrottleDescribeRate,
		"serverErrorRate": f.ServerErrorRate, "wrongChecksumRate": f.WrongChecksumRate,
	} {
		if !(rate >= 0 && rate <= 1) {
			errs = append(errs, fmt.Errorf("scenario: faults.%s: %v is outside 0 to 1 (a probability: 0.05 is one call in twenty)", name, rate))
		}
	}
	for name, d := range map[string]Duration{"latency": f.Latency, "blockLatency": f.BlockLatency, "consistencyDelay": f.ConsistencyDelay} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("scenario: faults.%s: %s is negative (give a duration such as \"50ms\")", name, d.D()))
		}
	}
	for i, a := range f.Actions {
		service, action, ok := strings.Cut(a, ":")
		if !ok || service == "" || action == "" {
			errs = append(errs, fmt.Errorf("scenario: faults.actions[%d]: %q is not service:Action (such as ec2:CreateSnapshot)", i, a))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("250ms", "2s").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: %s", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
