package report

import (
	"bytes"
	"regexp"
	"sort"

	"github.com/acquire-forensics/acquire/custody"
)

// verification wraps the verifier's report with what it was checked against.
func verification(dir string, vr *custody.Report, opts Options) Verification {
	v := Verification{
		Verdict:         VerdictFailed,
		OK:              vr.OK(),
		Complete:        verificationRan(vr),
		KeyPinned:       vr.KeyPinned,
		KeyGiven:        opts.KeyGiven,
		TSAPinned:       vr.TSAPinned,
		HeldCheckpoints: opts.HeldCheckpoints,
		Checkpoints:     readCheckpoints(dir),
		Result:          vr,
	}
	if len(v.HeldCheckpoints) == 0 && len(opts.Verify.Checkpoints) > 0 {
		for range opts.Verify.Checkpoints {
			v.HeldCheckpoints = append(v.HeldCheckpoints, "(unnamed)")
		}
	}
	switch vr.Verdict {
	case custody.VerdictVerified:
		v.Verdict = VerdictVerified
	case custody.VerdictSelfConsistent:
		v.Verdict = VerdictSelfConsistent
	}
	if vr.Problems == nil {
		vr.Problems = []custody.Problem{}
	}
	if vr.Warnings == nil {
		vr.Warnings = []custody.Problem{}
	}
	return v
}

var checkpointFile = regexp.MustCompile(`^[0-9]{10}\.checkpoint$`)

// maxCheckpointSize bounds what is read of a checkpoint file; real ones are a few hundred bytes.
const maxCheckpointSize = 64 << 10

// readCheckpoints reads the checkpoint notes of the case for display: origin, size and root, the first
// three lines of the note. Whether they hold is the verifier's business.
func readCheckpoints(dir string) []Checkpoint {
	all, _ := custody.ListCaseDir(dir, custody.CheckpointsDir)
	var names []string
	for _, name := range all {
		if checkpointFile.MatchString(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := []Checkpoint{}
	for _, name := range names {
		cp := Checkpoint{Path: custody.CheckpointsDir + "/" + name}
		body, err := custody.ReadCaseFile(dir, custody.CheckpointsDir+"/"+name, maxCheckpointSize)
		if err != nil {
			cp.Error = err.Error()
		} else {
			lines := bytes.SplitN(body, []byte("\n"), 4)
			if len(lines) < 4 {
				cp.Error = "not a checkpoint note"
			} else {
				cp.Origin, cp.Size, cp.Root = string(lines[0]), string(lines[1]), string(lines[2])
			}
		}
		out = append(out, cp)
	}
	return out
}
