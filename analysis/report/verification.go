package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/acquire-forensics/acquire/custody"
)

// verification wraps the verifier's report with what it was checked against.
func verification(dir string, vr *custody.Report, opts Options) Verification {
	v := Verification{
		Verdict:         VerdictVerified,
		OK:              vr.OK(),
		Complete:        verificationRan(vr),
		KeyPinned:       opts.Verify.Verifier != nil || opts.Verify.KeyID != "",
		KeyGiven:        opts.KeyGiven,
		TSAPinned:       opts.Verify.TSATrust != nil,
		HeldCheckpoints: opts.HeldCheckpoints,
		Checkpoints:     readCheckpoints(dir),
		Result:          vr,
	}
	if len(v.HeldCheckpoints) == 0 && len(opts.Verify.Checkpoints) > 0 {
		for range opts.Verify.Checkpoints {
			v.HeldCheckpoints = append(v.HeldCheckpoints, "(unnamed)")
		}
	}
	if !v.OK {
		v.Verdict = VerdictFailed
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
	entries, _ := os.ReadDir(filepath.Join(dir, custody.CheckpointsDir))
	var names []string
	for _, e := range entries {
		if checkpointFile.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := []Checkpoint{}
	for _, name := range names {
		cp := Checkpoint{Path: custody.CheckpointsDir + "/" + name}
		body, err := readSmall(filepath.Join(dir, custody.CheckpointsDir, name), maxCheckpointSize)
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

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New("too large for a checkpoint")
	}
	return data, nil
}
