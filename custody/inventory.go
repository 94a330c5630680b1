package custody

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// What a case directory may hold. One rule serves the writer, which signs a manifest only of what it
// accounts for and refuses to seal a case holding anything else, and the verifier, which fails a case
// holding anything else (docs/custody-format.md, "What a case holds"):
//
//   - custody.pub;
//   - records/NNNNNNNNNN.sigstore.json;
//   - checkpoints/NNNNNNNNNN.checkpoint and, beside it, its .sigstore.json bundle;
//   - manifests/NNNNNNNNNN.json and, beside it, its .sigstore.json bundle;
//   - files under artifacts/, each cited by a record (an artifact no record cites is what a writer
//     leaves when it stops between storing an artifact and writing the record citing it: it is not
//     part of the evidence, no manifest lists it, and verification warns about it);
//   - tsa/<hex>.pem, the time-stamping authority's certificates, named by their SHA-256;
//   - what is not evidence: the lock (.lock), the writer's cache (.cache/) and the temporary files of
//     interrupted writes (.tmp-*, warned about).
//
// Anything else, at any depth, fails: another file, a directory, a symbolic link, a device, pipe or
// socket.

// CacheDir holds what a writer keeps to open a large case quickly (the Merkle tree's tiles). It is not
// evidence: it is checked against the signed checkpoints whenever it is used, and rebuilt from the
// records when it does not prove.
const CacheDir = ".cache"

const lockFile = ".lock"

var (
	tsaChainFile         = regexp.MustCompile(`^[0-9a-f]{16}\.pem$`)
	checkpointBundleName = regexp.MustCompile(`^([0-9]{10})\.checkpoint\.sigstore\.json$`)
	manifestBundleName   = regexp.MustCompile(`^([0-9]{10})\.json\.sigstore\.json$`)
)

// inventory is every entry of a case, sorted by what it is.
type inventory struct {
	records     []uint64               // record files, by seq, ascending
	checkpoints []int64                // checkpoint notes, by size, ascending
	cpBundles   map[int64]bool         // checkpoint bundles present
	manifests   []uint64               // manifest files, by record count, ascending
	mfBundles   map[uint64]bool        // manifest bundles present
	artifacts   map[string]bool        // regular files under artifacts/
	tsaFiles    []string               // tsa/*.pem files named like a chain
	temporary   []string               // .tmp-* files
	evidence    map[string]bool        // the files of fixed name and form above but records: key, checkpoints, manifests
	dirsMissing map[string]bool        // standard directories that do not exist
	problems    []Problem              // links, special files, unexpected entries, unreadable directories
	unexpected  map[string]fs.FileMode // what a case may not hold, by path (its type bits)
}

// standardDirs are the directories a case is made with; caseDirs those it may hold.
var (
	standardDirs = []string{RecordsDir, ArtifactsDir, CheckpointsDir, ManifestsDir}
	caseDirs     = []string{RecordsDir, ArtifactsDir, CheckpointsDir, ManifestsDir, TSADir}
)

// takeInventory walks the whole case, without following links.
func takeInventory(root *caseRoot) *inventory {
	inv := &inventory{
		cpBundles: map[int64]bool{}, mfBundles: map[uint64]bool{}, artifacts: map[string]bool{}, evidence: map[string]bool{},
		dirsMissing: map[string]bool{}, unexpected: map[string]fs.FileMode{},
	}
	for _, d := range standardDirs {
		inv.dirsMissing[d] = true
	}
	root.walk(func(e caseEntry, err error) bool {
		if err != nil {
			inv.problems = append(inv.problems, Problem{Code: CodeUnreadable, Path: e.rel, Message: "this directory cannot be read: " + errText(err)})
			return false
		}
		return inv.add(e)
	})
	slices.Sort(inv.records)
	slices.Sort(inv.checkpoints)
	slices.Sort(inv.manifests)
	slices.Sort(inv.tsaFiles)
	slices.Sort(inv.temporary)
	for n := range inv.cpBundles {
		if !slices.Contains(inv.checkpoints, n) {
			rel := path.Join(CheckpointsDir, path.Base(CheckpointPath(n))+".sigstore.json")
			delete(inv.evidence, rel)
			inv.unexpected[rel] = 0
		}
	}
	for n := range inv.mfBundles {
		if !slices.Contains(inv.manifests, n) {
			rel := path.Join(ManifestsDir, path.Base(ManifestPath(n))+".sigstore.json")
			delete(inv.evidence, rel)
			inv.unexpected[rel] = 0
		}
	}
	return inv
}

// add files one entry, and says whether to look inside it (a directory that may hold evidence).
func (inv *inventory) add(e caseEntry) bool {
	dir, base := path.Split(e.rel)
	dir = strings.TrimSuffix(dir, "/")
	top, _, _ := strings.Cut(e.rel, "/")
	if e.mode&fs.ModeSymlink != 0 {
		inv.problems = append(inv.problems, Problem{Code: CodeSymlink, Path: e.rel, Message: "is a symbolic link: a case holds none, and nothing is read through one"})
	}
	if dir == "" && slices.Contains(caseDirs, e.rel) {
		if e.mode.IsDir() {
			delete(inv.dirsMissing, e.rel)
			return true
		}
		if e.mode&fs.ModeSymlink == 0 {
			inv.problems = append(inv.problems, Problem{Code: CodeUnreadable, Path: e.rel, Message: "is not a directory: what it should hold cannot be read"})
		}
		return false
	}
	// A record, checkpoint or manifest by its name is one, whatever the entry is: reading it then says
	// what is wrong with it.
	if dir == RecordsDir {
		// Records are kept by seq only, not in evidence: a large case has many.
		if n, ok := recordSeq(base); ok {
			inv.records = append(inv.records, n)
			return false
		}
	}
	if inv.evidenceFile(dir, base) {
		inv.evidence[e.rel] = true
		return false
	}
	switch {
	case e.mode&fs.ModeSymlink != 0:
		return false
	case top == CacheDir:
		return false // not evidence
	case !e.mode.IsDir() && !e.mode.IsRegular():
		inv.unexpected[e.rel] = e.mode
		return false
	case e.mode.IsDir():
		if top == ArtifactsDir && validArtifactName(strings.TrimPrefix(e.rel, ArtifactsDir+"/")) == nil {
			return true
		}
		inv.unexpected[e.rel] = e.mode
		return false
	case strings.HasPrefix(base, ".tmp-"):
		inv.temporary = append(inv.temporary, e.rel)
		return false
	}
	switch dir {
	case "":
		if base == lockFile {
			return false
		}
	case TSADir:
		if tsaChainFile.MatchString(base) {
			inv.tsaFiles = append(inv.tsaFiles, e.rel)
			return false
		}
	}
	if top == ArtifactsDir && validArtifactName(strings.TrimPrefix(e.rel, ArtifactsDir+"/")) == nil {
		inv.artifacts[e.rel] = true
		return false
	}
	inv.unexpected[e.rel] = e.mode
	return false
}

// evidenceFile files a key, checkpoint or manifest file, and says whether it was one.
func (inv *inventory) evidenceFile(dir, base string) bool {
	switch dir {
	case "":
		return base == PublicKeyFile
	case CheckpointsDir:
		if m := checkpointName.FindStringSubmatch(base); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			inv.checkpoints = append(inv.checkpoints, n)
			return true
		}
		if m := checkpointBundleName.FindStringSubmatch(base); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			inv.cpBundles[n] = true
			return true
		}
	case ManifestsDir:
		if m := manifestName.FindStringSubmatch(base); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			inv.manifests = append(inv.manifests, n)
			return true
		}
		if m := manifestBundleName.FindStringSubmatch(base); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			inv.mfBundles[n] = true
			return true
		}
	}
	return false
}

// errText is an error's message without the case directory's path, which every problem implies.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
