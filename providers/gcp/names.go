package gcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/acquire-forensics/acquire/providers/driver"
)

// Volumes and workloads are named by their resource names, as Cloud Audit Logs name them:
// projects/P/zones/Z/disks/D and projects/P/zones/Z/instances/I.

func diskID(project, zone, name string) string {
	return "projects/" + project + "/zones/" + zone + "/disks/" + name
}

func instanceID(project, zone, name string) string {
	return "projects/" + project + "/zones/" + zone + "/instances/" + name
}

// ref is a zonal resource parsed from a resource name or a URL.
type ref struct{ project, zone, kind, name string }

var refRule = regexp.MustCompile(`(?:^|/)projects/([^/]+)/zones/([^/]+)/(disks|instances|instantSnapshots)/([^/]+)$`)

func parseRef(s string) (ref, bool) {
	m := refRule.FindStringSubmatch(s)
	if m == nil {
		return ref{}, false
	}
	return ref{project: m[1], zone: m[2], kind: m[3], name: m[4]}, true
}

func (r ref) id() string {
	return "projects/" + r.project + "/zones/" + r.zone + "/" + r.kind + "/" + r.name
}

// nameRule is a Compute Engine resource name
// (https://cloud.google.com/compute/docs/naming-resources#resource-name-format).
var nameRule = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ValidName reports whether s is a Compute Engine resource name.
func ValidName(s string) bool { return nameRule.MatchString(s) }

// labelPrefix makes the engine's neutral label keys GCE label keys: "acquire-case", "acquire-token".
const labelPrefix = "acquire-"

const (
	tokenLabel = labelPrefix + driver.LabelToken
	roleLabel  = labelPrefix + driver.LabelRole
	caseLabel  = labelPrefix + driver.LabelCase
)

// labelValue encodes a value by the label rules: at most 63 lowercase letters, digits, _ and -
// (https://cloud.google.com/compute/docs/labeling-resources#requirements). Other characters become
// _; a value too long keeps its start and a digest of the whole, so that distinct values stay distinct.
func labelValue(v string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(v) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 63 {
		sum := sha256.Sum256([]byte(v))
		keep := min(len(out), 50)
		out = out[:keep] + "-" + hex.EncodeToString(sum[:])[:12]
	}
	return out
}

// encodeLabels makes neutral labels GCE labels, in a stable order of keys.
func encodeLabels(labels driver.Labels) map[string]string {
	out := map[string]string{}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range labels {
			if !yield(k) {
				return
			}
		}
	}) {
		out[labelValue(labelPrefix+k)] = labelValue(labels[k])
	}
	return out
}

// derived is a name or request ID for one resource of a step: the same on every attempt of the step,
// different for each resource it makes.
func derived(token, what string) uuid.UUID {
	ns, err := uuid.Parse(token)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceOID, []byte(token))
	}
	return uuid.NewSHA1(ns, []byte(what))
}

// requestID is the requestId of the call that makes what for a step.
func requestID(token, what string) string { return derived(token, "request:"+what).String() }

// resourceName is the name of what a step makes: a prefix, the source's name (shortened), and a digest
// of the token and the source, within the 63 characters names allow.
func resourceName(prefix, token, source string) string {
	tail := strings.ReplaceAll(derived(token, "name:"+source).String(), "-", "")[:12]
	short := source
	if i := strings.LastIndexByte(short, '/'); i >= 0 {
		short = short[i+1:]
	}
	room := 63 - len(prefix) - 2 - len(tail)
	if len(short) > room {
		short = strings.TrimRight(short[:room], "-")
	}
	return fmt.Sprintf("%s-%s-%s", prefix, short, tail)
}
