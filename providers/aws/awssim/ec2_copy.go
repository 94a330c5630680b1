package awssim

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

type copySnapshotResponse struct {
	ec2Meta
	SnapshotID string   `xml:"snapshotId"`
	TagSet     []xmlTag `xml:"tagSet>item"`
}

// copyVolumeID is the arbitrary volume ID a copied snapshot carries.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-copy-snapshot.html
const copyVolumeID = "vol-ffffffff"

// CopySnapshot is called in the destination region. The copy is
// asynchronous: problems with KMS keys or the presigned URL do not fail the
// call but leave the copy in state error with a status message.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopySnapshot.html
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html (statusMessage)
func (s *Server) copySnapshot(r *ec2Request) (ec2Body, *apiError) {
	sourceID, sourceRegion := r.q.get("SourceSnapshotId"), r.q.get("SourceRegion")
	if sourceID == "" {
		return nil, errMissingParameter("SourceSnapshotId")
	}
	if sourceRegion == "" {
		return nil, errMissingParameter("SourceRegion")
	}
	keyRef, encryptParam := r.q.get("KmsKeyId"), r.q.boolean("Encrypted")
	// "If KmsKeyId is specified, the encrypted state must be true."
	if keyRef != "" && !encryptParam {
		return nil, badRequest("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	if n, ok := r.q.integer("CompletionDurationMinutes", 0); !ok || (r.q.has("CompletionDurationMinutes") && (n < 15 || n > 2880 || n%15 != 0)) {
		return nil, errInvalidParameterValue("CompletionDurationMinutes", r.q.get("CompletionDurationMinutes"))
	}
	copyTags, e := r.q.tagSpecs("snapshot")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src, e := s.findUsableSnapshot(r, sourceID, sourceRegion)
	if e != nil {
		return nil, e
	}
	if state, _ := src.status(r.now); state != "completed" {
		return nil, badRequest("IncorrectState", "Snapshot '%s' is in state '%s' and cannot be copied until it is completed.", src.id, state)
	}
	// "Encrypted snapshots are encrypted, even if you omit this parameter
	// ... You cannot set this parameter to false."
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopySnapshot.html
	if src.encrypted && r.q.get("Encrypted") == "false" {
		return nil, badRequest("InvalidParameterValue", "The snapshot '%s' is encrypted; its copy cannot be unencrypted (Encrypted=false).", src.id)
	}
	if n := s.copiesInProgress(r.accountID(), r.region, r.now); n >= concurrentCopiesPerRegion {
		return nil, badRequest("ResourceLimitExceeded", "You have %d snapshot copies in progress to %s, the most an account may have at once (%d).", n, r.region, concurrentCopiesPerRegion)
	}
	failure := s.presignedURLProblem(r.q.get("PresignedUrl"), sourceID, sourceRegion)

	// Encrypted stays encrypted; an unencrypted source is encrypted when asked
	// to or when encryption by default is on in the destination region.
	// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-copy-snapshot.html#creating-encrypted-snapshots
	encrypt := src.encrypted || encryptParam || s.st.accounts[r.accountID()].encryptionByDefault[r.region]
	var destKeyARN string
	if src.encrypted && failure == "" {
		failure = s.ebsKeyProblem(r.principal, s.st.keyByARN(src.kmsKeyARN), src.kmsKeyARN)
	}
	if encrypt && failure == "" {
		key, e := s.ebsKey(r.accountID(), r.region, keyRef, r.now)
		if e != nil {
			// "AWS authenticates the KMS key asynchronously": an unknown key
			// fails the copy, not the call.
			failure = fmt.Sprintf("The KMS key %s does not exist in %s.", keyRef, r.region)
		} else {
			destKeyARN = key.arn
			failure = s.ebsKeyProblem(r.principal, key, key.arn)
		}
	}
	description := r.q.get("Description")
	if !r.q.has("Description") {
		description = fmt.Sprintf("[Copied %s from %s]", src.id, sourceRegion)
	}
	snap := s.newSnapshot(r.accountID(), r.region, src.disk, r.now, func(snap *snapshot) {
		snap.volumeID, snap.description, snap.tags = copyVolumeID, description, copyTags
		snap.encrypted, snap.kmsKeyARN = encrypt, destKeyARN
		switch {
		case failure != "":
			snap.fail(0, failure)
		case s.faults.snapshotFails(src.volumeID):
			snap.fail(snap.duration/2, "Snapshot copy failed")
		}
	})
	return &copySnapshotResponse{SnapshotID: snap.id, TagSet: xmlTags(snap.tags)}, nil
}

// concurrentCopiesPerRegion is the EBS quota "Concurrent snapshot copies per destination Region": 20,
// not adjustable; past it CopySnapshot fails with ResourceLimitExceeded ("You have exceeded an Amazon
// EC2 resource limit. For example, you might have too many snapshot copies in progress.").
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-resource-quotas.html
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
const concurrentCopiesPerRegion = 20

// copiesInProgress counts an account's pending copies in a region. Callers hold s.mu.
func (s *Server) copiesInProgress(account, region string, now time.Time) int {
	n := 0
	for _, snap := range s.st.snapshots {
		if snap.ownerID == account && snap.region == region && snap.volumeID == copyVolumeID {
			if state, _ := snap.status(now); state == "pending" {
				n++
			}
		}
	}
	return n
}

// ebsKeyProblem explains why EBS cannot use key for the principal, or
// returns "". EBS encrypts only with symmetric encryption keys that are
// enabled, and the principal needs the whole set of EBS encryption
// permissions on the key, through the key policy or grants; the message
// names the first one missing.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopySnapshot.html ("Amazon EBS does not support asymmetric KMS keys")
// Callers hold s.mu.
func (s *Server) ebsKeyProblem(p *principal, key *kmsKey, ref string) string {
	switch {
	case key == nil:
		return fmt.Sprintf("The KMS key %s does not exist.", ref)
	case !key.symmetricEncryption():
		return fmt.Sprintf("The KMS key %s is not a symmetric encryption key: Amazon EBS does not support asymmetric KMS keys.", key.arn)
	case key.keyState() != "Enabled":
		return fmt.Sprintf("The KMS key %s is %s.", key.arn, key.keyState())
	}
	if missing := s.st.missingEBSKeyPermission(p, key); missing != "" {
		return fmt.Sprintf("The principal %s is not authorized to perform %s on the KMS key %s.", p.arn, missing, key.arn)
	}
	return ""
}

// presignedURLProblem checks the PresignedUrl that SDKs add when SourceRegion
// is set: a CopySnapshot request for the same source, signed with SigV4 query
// parameters by a known access key. "An invalid or improperly signed
// PresignedUrl will cause the copy operation to fail asynchronously."
func (s *Server) presignedURLProblem(raw, sourceID, sourceRegion string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "The presigned URL is not a valid URL."
	}
	q := u.Query()
	cred := strings.SplitN(q.Get("X-Amz-Credential"), "/", 2)[0]
	switch {
	case q.Get("Action") != "CopySnapshot":
		return "The presigned URL is not a CopySnapshot request."
	case q.Get("SourceSnapshotId") != sourceID || q.Get("SourceRegion") != sourceRegion:
		return "The presigned URL names another source snapshot."
	case q.Get("X-Amz-Signature") == "" || s.st.credentials[cred] == nil:
		return "The presigned URL is not signed by a known principal."
	}
	return ""
}
