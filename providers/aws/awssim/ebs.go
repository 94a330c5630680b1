package awssim

import (
	"encoding/base64"
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

// Token lifetimes: "block tokens are valid for seven days, and NextToken
// values are valid for 60 minutes".
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-faq.html
const (
	blockTokenLifetime = 7 * 24 * time.Hour
	pageTokenLifetime  = 60 * time.Minute
)

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

// known: the action comes from the route, which names only served actions.
func (e ebsService) known(action string) bool { return action != "" }

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

// blockToken grants reading one block of one snapshot. It carries the time it
// was issued (whole seconds), signed with the block it names, so that it can
// be checked for forgery and for age without the simulator remembering it.
func (s *Server) blockToken(snapshotID string, index int32, issued time.Time) string {
	unix := strconv.FormatInt(issued.Unix(), 10)
	return base64.StdEncoding.EncodeToString([]byte(unix + "." + s.sign(blockTokenPayload(snapshotID, index, unix))))
}

func blockTokenPayload(snapshotID string, index int32, unix string) string {
	return "block|" + snapshotID + "|" + strconv.Itoa(int(index)) + "|" + unix
}

// checkBlockToken refuses a token that was not issued for this block, or
// that is older than seven days, with ValidationException INVALID_BLOCK_TOKEN.
// https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-faq.html
// https://docs.aws.amazon.com/ebs/latest/APIReference/API_GetSnapshotBlock.html#API_GetSnapshotBlock_Errors
func (s *Server) checkBlockToken(snapshotID string, index int32, token string, now time.Time) *apiError {
	raw, _ := base64.StdEncoding.DecodeString(token)
	unix, sig, ok := strings.Cut(string(raw), ".")
	issued, err := strconv.ParseInt(unix, 10, 64)
	if !ok || err != nil || sig != s.sign(blockTokenPayload(snapshotID, index, unix)) {
		return ebsValidation("INVALID_BLOCK_TOKEN", "The block token is not valid for block %d of %s.", index, snapshotID)
	}
	if !now.Before(time.Unix(issued, 0).Add(blockTokenLifetime)) {
		return ebsValidation("INVALID_BLOCK_TOKEN", "The block token for block %d of %s has expired.", index, snapshotID)
	}
	return nil
}

// blockListParams reads maxResults (100-10000), pageToken and
// startingBlockIndex (a non-negative 32-bit integer).
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
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return p, 0, ebsValidation("INVALID_PARAMETER_VALUE", "startingBlockIndex must be an integer from 0 to 2147483647")
		}
		start = int32(n)
	}
	return p, start, nil
}

func errInvalidPageToken() *apiError {
	return ebsValidation("INVALID_PAGE_TOKEN", "The pagination token is invalid or has expired.")
}

// ebsPager signs EBS direct NextTokens, which expire after 60 minutes.
func ebsPager(scope string, now time.Time) pager {
	return pager{scope: scope, now: now, ttl: pageTokenLifetime, badToken: errInvalidPageToken}
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
	if page.nextToken != "" {
		start = 0 // the token says where to resume
	}
	var indexes []int32
	for _, b := range snap.disk.blocks {
		if b.index >= start {
			indexes = append(indexes, b.index)
		}
	}
	pageItems, next, e := paginateByKey(s, ebsPager("ListSnapshotBlocks|"+id, now), indexes, func(i int32) int { return int(i) }, page)
	if e != nil {
		return e
	}
	issued := time.Unix(now.Unix(), 0)
	out := listSnapshotBlocksResponse{
		Blocks: []ebsBlock{}, ExpiryTime: epochSeconds(issued.Add(blockTokenLifetime)),
		VolumeSize: int64(snap.sizeGiB), BlockSize: BlockSize, NextToken: next,
	}
	for _, index := range pageItems {
		out.Blocks = append(out.Blocks, ebsBlock{BlockIndex: index, BlockToken: s.blockToken(id, index, issued)})
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
	if e := s.checkBlockToken(snap.id, index, c.r.URL.Query().Get("blockToken"), now); e != nil {
		return e
	}
	pos, listed := snap.disk.byIndex[index]
	if !listed {
		return ebsValidation("INVALID_BLOCK", "Block %d of %s holds no data.", index, snap.id)
	}
	if err := s.sleep(c.r.Context(), s.faults.get().BlockLatency.D()); err != nil {
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
	if page.nextToken != "" {
		start = 0 // the token says where to resume
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
	issued := time.Unix(now.Unix(), 0)
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
		cb := ebsChangedBlock{BlockIndex: b.index, SecondBlockToken: s.blockToken(second.id, b.index, issued)}
		if inFirst {
			cb.FirstBlockToken = s.blockToken(first.id, b.index, issued)
		}
		changed = append(changed, cb)
	}
	for index := range firstSums { // blocks written only in the first snapshot
		if index >= start {
			changed = append(changed, ebsChangedBlock{BlockIndex: index, FirstBlockToken: s.blockToken(first.id, index, issued)})
		}
	}
	sortChangedBlocks(changed)
	scope := "ListChangedBlocks|" + firstID + "|" + secondID
	pageItems, next, e := paginateByKey(s, ebsPager(scope, now), changed, func(b ebsChangedBlock) int { return int(b.BlockIndex) }, page)
	if e != nil {
		return e
	}
	out := listChangedBlocksResponse{ChangedBlocks: append([]ebsChangedBlock{}, pageItems...),
		ExpiryTime: epochSeconds(issued.Add(blockTokenLifetime)), VolumeSize: int64(second.sizeGiB),
		BlockSize: BlockSize, NextToken: next}
	writeJSON(w, http.StatusOK, "application/json", out)
	return nil
}

func sortChangedBlocks(b []ebsChangedBlock) {
	sort.Slice(b, func(i, j int) bool { return b[i].BlockIndex < b[j].BlockIndex })
}
