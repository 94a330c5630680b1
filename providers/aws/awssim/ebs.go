package awssim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ebsService serves the EBS direct APIs that read snapshots (REST-JSON).
// https://docs.aws.amazon.com/ebs/latest/APIReference/Welcome.html
type ebsService struct{ s *Server }

// blockTokenLifetime: "block tokens are valid for 7 days".
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-faq.html
const blockTokenLifetime = 7 * 24 * time.Hour

var blockBuffers = sync.Pool{New: func() any { b := make([]byte, BlockSize); return &b }}

// ebsRoute is a parsed EBS direct request path.
type ebsRoute struct {
	action     string
	snapshotID string
	blockIndex string
}

func parseEBSRoute(r *http.Request) ebsRoute {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 3 || parts[0] != "snapshots" {
		return ebsRoute{}
	}
	switch {
	case len(parts) == 3 && parts[2] == "blocks":
		return ebsRoute{action: "ListSnapshotBlocks", snapshotID: parts[1]}
	case len(parts) == 4 && parts[2] == "blocks":
		return ebsRoute{action: "GetSnapshotBlock", snapshotID: parts[1], blockIndex: parts[3]}
	case len(parts) == 3 && parts[2] == "changedblocks":
		return ebsRoute{action: "ListChangedBlocks", snapshotID: parts[1]}
	}
	return ebsRoute{}
}

func (e ebsService) action(c *call) string { return parseEBSRoute(c.r).action }

func (e ebsService) authCodes() authCodes {
	return authCodes{status: http.StatusForbidden, missing: "MissingAuthenticationTokenException",
		unknownKey: "UnrecognizedClientException", badSignature: "InvalidSignatureException", expired: "ExpiredTokenException"}
}

// https://docs.aws.amazon.com/ebs/latest/APIReference/API_GetSnapshotBlock.html#API_GetSnapshotBlock_Errors
func (e ebsService) throttled() *apiError {
	err := badRequest("RequestThrottledException", "The number of API requests has exceeded the maximum allowed API request throttling limit.")
	err.reason = "ACCOUNT_THROTTLED"
	return err
}

func (e ebsService) internalError() *apiError {
	return newError(http.StatusInternalServerError, "InternalServerException", "An internal error has occurred.")
}

func (e ebsService) writeError(w http.ResponseWriter, c *call, err *apiError) {
	body := map[string]string{"Message": err.message}
	if err.reason != "" {
		body["Reason"] = err.reason
	}
	w.Header().Set("X-Amzn-ErrorType", err.code)
	writeJSON(w, err.status, "application/json", body)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, body any) {
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data)
}

func ebsError(status int, code, reason, format string, args ...any) *apiError {
	err := newError(status, code, format, args...)
	err.reason = reason
	return err
}

func ebsValidation(reason, format string, args ...any) *apiError {
	return ebsError(http.StatusBadRequest, "ValidationException", reason, format, args...)
}

func (e ebsService) serve(w http.ResponseWriter, c *call) {
	route := parseEBSRoute(c.r)
	if route.action == "" {
		e.writeError(w, c, newError(http.StatusNotFound, "UnknownOperationException", "No operation at %s %s", c.r.Method, c.r.URL.Path))
		return
	}
	if !c.principal.allows("ebs:" + route.action) {
		e.writeError(w, c, ebsError(http.StatusForbidden, "AccessDeniedException", "UNAUTHORIZED_ACCOUNT",
			"User: %s is not authorized to perform: ebs:%s", c.principal.arn, route.action))
		return
	}
	var err *apiError
	switch route.action {
	case "ListSnapshotBlocks":
		err = e.s.listSnapshotBlocks(w, c, route.snapshotID)
	case "GetSnapshotBlock":
		err = e.s.getSnapshotBlock(w, c, route)
	case "ListChangedBlocks":
		err = e.s.listChangedBlocks(w, c, route.snapshotID)
	}
	if err != nil {
		e.writeError(w, c, err)
	}
}

// readableSnapshot returns a completed snapshot the caller owns in the
// request's region, whose KMS key (if any) the caller may decrypt with.
// "You can use the EBS direct APIs only on completed snapshots";
// "encrypted snapshots need kms:Decrypt".
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-faq.html
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-permissions.html
// Callers hold s.mu.
func (s *Server) readableSnapshot(c *call, id string, now time.Time) (*snapshot, *apiError) {
	if checkSnapshotID(id) != nil {
		return nil, ebsValidation("INVALID_SNAPSHOT_ID", "Invalid snapshot ID: %s", id)
	}
	snap := s.st.snapshots[id]
	if snap == nil || snap.region != c.region || snap.ownerID != c.principal.accountID || now.Before(snap.visibleAt) {
		return nil, ebsError(http.StatusNotFound, "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND", "The snapshot '%s' does not exist.", id)
	}
	if state, _ := snap.status(now); state != "completed" {
		return nil, ebsValidation("INVALID_DEPENDENCY_REQUEST", "The snapshot '%s' is in state %s; only completed snapshots can be read.", id, state)
	}
	if snap.encrypted {
		key := s.st.keyByARN(snap.kmsKeyARN)
		if key == nil || key.keyState() != "Enabled" || !s.st.canUseKey(c.principal, key, "Decrypt") {
			return nil, ebsError(http.StatusForbidden, "AccessDeniedException", "DEPENDENCY_ACCESS_DENIED",
				"The principal %s cannot use KMS key %s to decrypt snapshot %s.", c.principal.arn, snap.kmsKeyARN, id)
		}
	}
	return snap, nil
}

func (s *Server) blockToken(snapshotID string, index int32) string {
	return s.sign("block|" + snapshotID + "|" + strconv.Itoa(int(index)))
}

// blockListParams reads maxResults (100-10000), pageToken and
// startingBlockIndex.
// https://docs.aws.amazon.com/ebs/latest/APIReference/API_ListSnapshotBlocks.html
func blockListParams(c *call) (pageRequest, int32, *apiError) {
	q := c.r.URL.Query()
	p := pageRequest{maxResults: 10000, nextToken: q.Get("pageToken")}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 10000 {
			return p, 0, ebsValidation("INVALID_PARAMETER_VALUE", "maxResults must be between 100 and 10000")
		}
		p.maxResults = n
	}
	var start int32
	if v := q.Get("startingBlockIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, 0, ebsValidation("INVALID_PARAMETER_VALUE", "startingBlockIndex must be a non-negative integer")
		}
		start = int32(n)
	}
	return p, start, nil
}

func errInvalidPageToken() *apiError {
	return ebsValidation("INVALID_PAGE_TOKEN", "The pagination token is invalid or has expired.")
}

type ebsBlock struct {
	BlockIndex int32  `json:"BlockIndex"`
	BlockToken string `json:"BlockToken"`
}

type listSnapshotBlocksResponse struct {
	Blocks     []ebsBlock `json:"Blocks"`
	ExpiryTime float64    `json:"ExpiryTime"`
	VolumeSize int64      `json:"VolumeSize"`
	BlockSize  int32      `json:"BlockSize"`
	NextToken  string     `json:"NextToken,omitempty"`
}

// ListSnapshotBlocks lists the written blocks in ascending index order.
// https://docs.aws.amazon.com/ebs/latest/APIReference/API_ListSnapshotBlocks.html
func (s *Server) listSnapshotBlocks(w http.ResponseWriter, c *call, id string) *apiError {
	page, start, e := blockListParams(c)
	if e != nil {
		return e
	}
	now := s.now()
	s.mu.Lock()
	snap, e := s.readableSnapshot(c, id, now)
	s.mu.Unlock()
	if e != nil {
		return e
	}
	var indexes []int32
	for _, b := range snap.disk.blocks {
		if b.index >= start {
			indexes = append(indexes, b.index)
		}
	}
	scope := "ListSnapshotBlocks|" + id + "|" + strconv.Itoa(int(start))
	pageItems, next, e := paginate(s, scope, indexes, page, errInvalidPageToken)
	if e != nil {
		return e
	}
	out := listSnapshotBlocksResponse{
		Blocks: []ebsBlock{}, ExpiryTime: epochSeconds(now.Add(blockTokenLifetime)),
		VolumeSize: int64(snap.sizeGiB), BlockSize: BlockSize, NextToken: next,
	}
	for _, index := range pageItems {
		out.Blocks = append(out.Blocks, ebsBlock{BlockIndex: index, BlockToken: s.blockToken(id, index)})
	}
	writeJSON(w, http.StatusOK, "application/json", out)
	return nil
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// GetSnapshotBlock returns one block with its precomputed SHA-256 checksum.
// The per-snapshot request rate is limited as the documented quota is.
// https://docs.aws.amazon.com/ebs/latest/APIReference/API_GetSnapshotBlock.html
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapis-using-checksums.html
// https://docs.aws.amazon.com/ebs/latest/userguide/ebs-resource-quotas.html
func (s *Server) getSnapshotBlock(w http.ResponseWriter, c *call, route ebsRoute) *apiError {
	index64, err := strconv.ParseInt(route.blockIndex, 10, 32)
	if err != nil || index64 < 0 {
		return ebsValidation("INVALID_BLOCK", "Invalid block index %s", route.blockIndex)
	}
	index := int32(index64)
	now := s.now()
	s.mu.Lock()
	snap, e := s.readableSnapshot(c, route.snapshotID, now)
	var limiter interface{ AllowN(time.Time, int) bool }
	if e == nil {
		limiter = s.blockLimiter(snap.id)
	}
	s.mu.Unlock()
	if e != nil {
		return e
	}
	if !limiter.AllowN(now, 1) {
		return ebsError(http.StatusBadRequest, "RequestThrottledException", "RESOURCE_LEVEL_THROTTLE",
			"The GetSnapshotBlock request rate for snapshot %s exceeds its quota.", snap.id)
	}
	if c.r.URL.Query().Get("blockToken") != s.blockToken(snap.id, index) {
		return ebsValidation("INVALID_BLOCK_TOKEN", "The block token is not valid for block %d of %s.", index, snap.id)
	}
	pos, listed := snap.disk.byIndex[index]
	if !listed {
		return ebsValidation("INVALID_BLOCK", "Block %d of %s holds no data.", index, snap.id)
	}
	if err := sleep(c.r.Context(), s.faults.get().BlockLatency.D()); err != nil {
		return nil
	}
	bufp := blockBuffers.Get().(*[]byte)
	defer blockBuffers.Put(bufp)
	if err := snap.disk.readBlock(index, *bufp); err != nil {
		return newError(http.StatusInternalServerError, "InternalServerException", "reading block %d: %v", index, err)
	}
	checksum := snap.disk.blocks[pos].checksum
	if s.faults.wrongChecksum() {
		checksum = blockChecksum(append([]byte("corrupt"), (*bufp)[:64]...))
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(BlockSize))
	h.Set("x-amz-Data-Length", strconv.Itoa(BlockSize))
	h.Set("x-amz-Checksum", checksum)
	h.Set("x-amz-Checksum-Algorithm", "SHA256")
	w.WriteHeader(http.StatusOK)
	w.Write(*bufp)
	return nil
}

type ebsChangedBlock struct {
	BlockIndex       int32  `json:"BlockIndex"`
	FirstBlockToken  string `json:"FirstBlockToken,omitempty"`
	SecondBlockToken string `json:"SecondBlockToken,omitempty"`
}

type listChangedBlocksResponse struct {
	ChangedBlocks []ebsChangedBlock `json:"ChangedBlocks"`
	ExpiryTime    float64           `json:"ExpiryTime"`
	VolumeSize    int64             `json:"VolumeSize"`
	BlockSize     int32             `json:"BlockSize"`
	NextToken     string            `json:"NextToken,omitempty"`
}

// ListChangedBlocks lists blocks that differ between two snapshots of the
// same volume lineage (or every block of the second when no first is given).
// https://docs.aws.amazon.com/ebs/latest/APIReference/API_ListChangedBlocks.html
func (s *Server) listChangedBlocks(w http.ResponseWriter, c *call, secondID string) *apiError {
	page, start, e := blockListParams(c)
	if e != nil {
		return e
	}
	firstID := c.r.URL.Query().Get("firstSnapshotId")
	now := s.now()
	s.mu.Lock()
	second, e := s.readableSnapshot(c, secondID, now)
	var first *snapshot
	if e == nil && firstID != "" {
		first, e = s.readableSnapshot(c, firstID, now)
	}
	s.mu.Unlock()
	if e != nil {
		return e
	}
	if first != nil && first.volumeID != second.volumeID {
		return ebsValidation("UNRELATED_SNAPSHOTS", "The snapshots %s and %s are not of the same volume.", firstID, secondID)
	}
	var changed []ebsChangedBlock
	firstSums := map[int32]string{}
	if first != nil {
		for _, b := range first.disk.blocks {
			firstSums[b.index] = b.checksum
		}
	}
	for _, b := range second.disk.blocks {
		if b.index < start {
			continue
		}
		sum, inFirst := firstSums[b.index]
		delete(firstSums, b.index)
		if inFirst && sum == b.checksum {
			continue
		}
		cb := ebsChangedBlock{BlockIndex: b.index, SecondBlockToken: s.blockToken(second.id, b.index)}
		if inFirst {
			cb.FirstBlockToken = s.blockToken(first.id, b.index)
		}
		changed = append(changed, cb)
	}
	for index := range firstSums { // blocks written only in the first snapshot
		if index >= start {
			changed = append(changed, ebsChangedBlock{BlockIndex: index, FirstBlockToken: s.blockToken(first.id, index)})
		}
	}
	sortChangedBlocks(changed)
	scope := "ListChangedBlocks|" + firstID + "|" + secondID + "|" + strconv.Itoa(int(start))
	pageItems, next, e := paginate(s, scope, changed, page, errInvalidPageToken)
	if e != nil {
		return e
	}
	out := listChangedBlocksResponse{ChangedBlocks: append([]ebsChangedBlock{}, pageItems...),
		ExpiryTime: epochSeconds(now.Add(blockTokenLifetime)), VolumeSize: int64(second.sizeGiB),
		BlockSize: BlockSize, NextToken: next}
	writeJSON(w, http.StatusOK, "application/json", out)
	return nil
}

func sortChangedBlocks(b []ebsChangedBlock) {
	sort.Slice(b, func(i, j int) bool { return b[i].BlockIndex < b[j].BlockIndex })
}
