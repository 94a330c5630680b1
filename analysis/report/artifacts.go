package report

import (
	"slices"
	"strconv"
	"strings"

	"github.com/acquire-forensics/acquire/custody"
)

// artifacts lists every captured file a record cites, with the verifier's check of its digest.
func artifacts(recs []Record, vr *custody.Report) []Artifact {
	bad := map[string]bool{}
	var cited []custody.Problem // problems a record has with an artifact it cites, by the record's path
	for _, p := range vr.Problems {
		if p.Code == custody.CodeArtifactMismatch || p.Code == custody.CodeManifestFile {
			bad[p.Path] = true
			if p.Seq != 0 {
				cited = append(cited, p)
			}
		}
	}
	citedBad := func(seq uint64, name string) bool {
		return slices.ContainsFunc(cited, func(p custody.Problem) bool { return p.Seq == seq && strings.Contains(p.Message, name) })
	}
	var out []Artifact
	for _, rec := range recs {
		if rec.Event == nil {
			continue
		}
		for _, s := range rec.Subjects {
			if s.Kind() != custody.KindArtifact {
				continue
			}
			a := Artifact{Name: s.Name, SHA256: s.Digest["sha256"], MediaType: s.MediaType, Record: rec.Seq, Action: rec.Event.Action, Check: CheckMatch}
			a.SizeBytes, _ = strconv.ParseInt(s.Annotations["size"], 10, 64)
			switch {
			case !verificationRan(vr):
				a.Check = CheckNotRun
			case bad[s.Name], citedBad(rec.Seq, s.Name):
				a.Check = CheckMismatch
			}
			out = append(out, a)
		}
	}
	return out
}

// verificationRan reports whether the verifier got past settling the key: without a key it checks
// nothing else.
func verificationRan(vr *custody.Report) bool { return vr.KeySource != "none" && vr.KeySource != "" }
