package azuresim

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The blob endpoint of a managed disk export: a page blob read through its
// SAS, with Get Blob (ranged), Get Blob Properties and Get Page Ranges.
// https://learn.microsoft.com/rest/api/storageservices/get-blob
// https://learn.microsoft.com/rest/api/storageservices/get-blob-properties
// https://learn.microsoft.com/rest/api/storageservices/get-page-ranges

// storageError is Storage's XML error, its code also in x-ms-error-code.
// https://learn.microsoft.com/rest/api/storageservices/status-and-error-codes2
func (s *Server) storageError(w http.ResponseWriter, r *http.Request, status int, code, msg, detail string) {
	h := w.Header()
	h.Set("x-ms-error-code", code)
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body := `<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>` + xmlEscape(msg+"\nRequestId:"+h.Get("x-ms-request-id")+"\nTime:"+s.now().UTC().Format("2006-01-02T15:04:05.0000000Z")) + `</Message>`
	if detail != "" {
		body += `<AuthenticationErrorDetail>` + xmlEscape(detail) + `</AuthenticationErrorDetail>`
	}
	io.WriteString(w, body+`</Error>`)
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("x-ms-request-id", s.ids.newGUID("blob-request"))
	h.Set("x-ms-version", sasVersion)
	if v := r.Header.Get("x-ms-version"); v != "" {
		h.Set("x-ms-version", v)
	}
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	q := r.URL.Query()
	op := "Blob_Download"
	switch {
	case r.Method == http.MethodHead:
		op = "Blob_GetProperties"
	case q.Get("comp") == "pagelist":
		op = "PageBlob_GetPageRanges"
	}
	start := s.now()
	defer func() {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("cloud", "azure"), slog.String("op", op),
			slog.String("range", r.Header.Get("x-ms-range")+r.Header.Get("Range")), slog.Duration("elapsed", s.now().Sub(start)))
	}()
	g, status, code, msg, detail := s.authorizeBlob(r, start)
	if g == nil {
		s.storageError(w, r, status, code, msg, detail)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.storageError(w, r, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.", "")
		return
	}
	s.count(op)
	f := s.faults.forCall(op)
	if err := s.sleep(r.Context(), f.delay); err != nil {
		return
	}
	switch {
	case f.lostReply:
		loseConnection(w)
		return
	case f.throttle > 0:
		// https://learn.microsoft.com/azure/storage/blobs/scalability-targets#throttling
		h.Set("Retry-After", strconv.Itoa(f.throttle))
		s.storageError(w, r, http.StatusServiceUnavailable, "ServerBusy", "Operations per second is over the account limit.", "")
		return
	case f.serverError > 0:
		s.storageError(w, r, f.serverError, "InternalError", "The server encountered an internal error. Please retry the request.", "")
		return
	}
	c := g.content
	lastModified := start.Add(-time.Minute).UTC().Format(http.TimeFormat)
	h.Set("Last-Modified", lastModified)
	h.Set("ETag", `"0x8D`+strings.ToUpper(g.id[:12])+`"`)
	h.Set("x-ms-blob-type", "PageBlob")
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-ms-server-encrypted", "true")
	h.Set("x-ms-lease-state", "available")
	h.Set("x-ms-lease-status", "unlocked")
	h.Set("x-ms-blob-sequence-number", "0")
	from, to, ranged, ok := parseRange(r, c.size)
	if !ok {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", c.size))
		s.storageError(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The range specified is invalid for the current size of the resource.", "")
		return
	}
	switch op {
	case "Blob_GetProperties":
		h.Set("Content-Length", strconv.FormatInt(c.size, 10))
		h.Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
	case "PageBlob_GetPageRanges":
		s.pageRanges(w, r, c, from, to, ranged)
	default:
		md5Asked := strings.EqualFold(r.Header.Get("x-ms-range-get-content-md5"), "true")
		// "If this header is specified without the Range header, the service returns status code 400
		// (Bad Request). If this header is set to true when the range exceeds 4 mebibytes (MiB) in
		// size, the service returns status code 400 (Bad Request)."
		// https://learn.microsoft.com/rest/api/storageservices/get-blob#request-headers
		if md5Asked && (!ranged || to-from+1 > 4<<20) {
			s.storageError(w, r, http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", "x-ms-range-get-content-md5 needs a Range of at most 4 MiB")
			return
		}
		s.download(w, c, from, to, ranged, f.wrongBytes, md5Asked)
	}
}

// authorizeBlob checks the SAS (and, for dataAccessAuthMode
// AzureActiveDirectory, the bearer token and its data action).
func (s *Server) authorizeBlob(r *http.Request, now time.Time) (*accessGrant, int, string, string, string) {
	const authFailed = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
	q := r.URL.Query()
	si, sig := q.Get("si"), q.Get("sig")
	if si == "" || sig == "" {
		if r.Header.Get("Authorization") == "" {
			return nil, http.StatusUnauthorized, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.", ""
		}
		return nil, http.StatusForbidden, "AuthenticationFailed", authFailed, "A managed disk export is read with its SAS."
	}
	s.mu.Lock()
	g := s.st.grants[si]
	var account string
	if g != nil {
		account = s.sasAccount(g)
	}
	s.mu.Unlock()
	path := r.URL.EscapedPath()
	if g == nil || path != "/"+account+"/"+g.container+"/abcd" ||
		subtle.ConstantTimeCompare([]byte(sig), []byte(s.sasSignature(si, path))) != 1 ||
		q.Get("sv") != sasVersion || q.Get("sr") != "b" {
		return nil, http.StatusForbidden, "AuthenticationFailed", authFailed, "Signature did not match. String to sign used was r."
	}
	s.mu.Lock()
	revoked, expires := g.revoked, g.expires
	s.mu.Unlock()
	if revoked {
		// endGetAccess removes the access policy the SAS names.
		return nil, http.StatusForbidden, "AuthenticationFailed", authFailed, "Signed identifier not found: access to this export has ended (endGetAccess)."
	}
	if !now.Before(expires) {
		return nil, http.StatusForbidden, "AuthenticationFailed", authFailed, "Signature not valid in the specified time frame: Start [] - Expiry [" + expires.UTC().Format(http.TimeFormat) + "] - Current [" + now.UTC().Format(http.TimeFormat) + "]"
	}
	if g.aadOnly {
		// https://learn.microsoft.com/azure/virtual-machines/linux/disks-upload-vhd-to-managed-disk-cli#secure-upload-with-azure-ad
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return nil, http.StatusUnauthorized, "NoAuthenticationInformation", "This export needs a Microsoft Entra ID bearer token as well as its SAS (the disk's dataAccessAuthMode is AzureActiveDirectory).", ""
		}
		tok, te := s.verifyToken(raw, diskAudience)
		if te != nil {
			return nil, http.StatusUnauthorized, "InvalidAuthenticationInfo", "Authentication information is not given in the correct format. " + te.message, ""
		}
		s.mu.Lock()
		p := s.st.principals[strings.ToLower(tok.clientID)]
		sub := s.st.subscriptions[key(parseResourceID(g.resourceID).subscription)]
		action := "Microsoft.Compute/" + dataActionKind(g.resourceKind) + "/download/action"
		allowed := p != nil && sub != nil && sub.tenantID == tok.tenantID && s.dataAllowed(p.objectID, action, g.resourceID)
		s.mu.Unlock()
		if !allowed {
			return nil, http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission: it needs the data action " + action + ".", ""
		}
	}
	return g, 0, "", "", ""
}

func dataActionKind(kind string) string {
	if kind == "diskRestorePoints" {
		return "disks"
	}
	return kind
}

// parseRange reads x-ms-range (or Range): bytes=a-b or bytes=a-.
// https://learn.microsoft.com/rest/api/storageservices/specifying-the-range-header-for-blob-service-operations
func parseRange(r *http.Request, size int64) (from, to int64, ranged, ok bool) {
	v := r.Header.Get("x-ms-range")
	if v == "" {
		v = r.Header.Get("Range")
	}
	if v == "" {
		return 0, size - 1, false, true
	}
	spec, found := strings.CutPrefix(v, "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash {
		return 0, 0, true, false
	}
	from, err := strconv.ParseInt(a, 10, 64)
	if err != nil || from < 0 || from >= size {
		return 0, 0, true, false
	}
	to = size - 1
	if b != "" {
		if to, err = strconv.ParseInt(b, 10, 64); err != nil || to < from {
			return 0, 0, true, false
		}
		to = min(to, size-1)
	}
	return from, to, true, true
}

func (s *Server) download(w http.ResponseWriter, c *content, from, to int64, ranged, wrong, withMD5 bool) {
	h := w.Header()
	if withMD5 {
		// The MD5 of the range as stored: a byte changed on the way no longer matches it.
		// https://learn.microsoft.com/rest/api/storageservices/get-blob#response-headers (Content-MD5)
		data := make([]byte, to-from+1)
		if err := c.readAt(data, from); err != nil {
			panic(http.ErrAbortHandler)
		}
		sum := md5.Sum(data)
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(to-from+1, 10))
	status := http.StatusOK
	if ranged {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, c.size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	buf := make([]byte, min(4<<20, to-from+1))
	for off := from; off <= to; {
		n := min(int64(len(buf)), to-off+1)
		if err := c.readAt(buf[:n], off); err != nil {
			panic(http.ErrAbortHandler) // the answer is already under way
		}
		if wrong && off == from {
			buf[0] ^= 0xff // one byte changed, the length intact
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		off += n
	}
}

type pageList struct {
	XMLName    xml.Name   `xml:"PageList"`
	Ranges     []xmlRange `xml:"PageRange"`
	NextMarker string     `xml:"NextMarker"`
}

type xmlRange struct {
	Start int64 `xml:"Start"`
	End   int64 `xml:"End"`
}

// pageRanges lists the written ranges (End inclusive), paged by
// maxresults with an opaque marker.
func (s *Server) pageRanges(w http.ResponseWriter, r *http.Request, c *content, from, to int64, ranged bool) {
	q := r.URL.Query()
	ranges := c.rangesWithin(from, to+1)
	start := 0
	if m := q.Get("marker"); m != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "p"))
		if err != nil || n < 0 || n > len(ranges) {
			s.storageError(w, r, http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: marker.", "")
			return
		}
		start = n
	}
	limit := len(ranges) - start
	if v := q.Get("maxresults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			s.storageError(w, r, http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: maxresults.", "")
			return
		}
		limit = min(limit, n)
	}
	out := pageList{}
	for _, pr := range ranges[start : start+limit] {
		out.Ranges = append(out.Ranges, xmlRange{Start: pr.start, End: pr.end - 1})
	}
	if start+limit < len(ranges) {
		out.NextMarker = "p" + strconv.Itoa(start+limit)
	}
	data, _ := xml.Marshal(out)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-ms-blob-content-length", strconv.FormatInt(c.size, 10))
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, xml.Header)
	w.Write(data)
}
