package gcpsim

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Resumable uploads are taken here rather than by fakestorage, whose
// sessions keep the object in memory, hash all of it again on every chunk
// and append a resent chunk twice. The simulator streams each session to a
// file, follows the protocol's offsets, and hands the finished object to
// fakestorage, which then serves it like any other.
// https://cloud.google.com/storage/docs/performing-resumable-uploads
// https://cloud.google.com/storage/docs/resumable-uploads
//
// Rules followed:
//   - the session is started by an authorized POST (uploadType=resumable,
//     the object's name in the query or the JSON body, ifGenerationMatch
//     honoured when the object is committed) and answered with its session
//     URI in Location;
//   - the session URI is the credential: requests to it carry no token
//     ("the session URI acts as an authentication token");
//   - chunks are PUT with Content-Range: bytes FIRST-LAST/TOTAL or /*; a
//     chunk other than the last must be a multiple of 256 KiB; bytes the
//     session already holds are skipped (a resend after a lost answer); a
//     chunk that starts past them is refused;
//   - 308 Resume Incomplete answers an unfinished upload, with Range:
//     bytes=0-N of what is held (no Range when nothing is);
//   - PUT with Content-Range: bytes */TOTAL and no body asks for the status,
//     and completes the upload when TOTAL bytes are held;
//   - the finished object's MD5 and CRC32C are checked against those the
//     session's metadata declared (400 when they differ);
//   - DELETE cancels the session: 499, and the session URI answers 404 after.
type uploadSession struct {
	mu       sync.Mutex
	bucket   string
	name     string
	meta     map[string]string
	ctype    string
	ifGen    *int64
	wantMD5  string
	wantCRC  string
	path     string
	file     *os.File
	held     int64
	md5      hash.Hash
	crc      hash.Hash32
	done     []byte // the object resource, once committed
	canceled bool
}

type uploads struct {
	mu       sync.Mutex
	sessions map[string]*uploadSession
}

const uploadChunkMultiple = 256 << 10

var contentRangeRule = regexp.MustCompile(`^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$`)

// isUploadSession reports whether r addresses a resumable session URI.
func isUploadSession(r *http.Request) bool {
	return r.URL.Path != "" && r.URL.Query().Get("upload_id") != "" && hasPrefix(r.URL.Path, "/upload/storage/v1/b/")
}

func isUploadStart(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Get("uploadType") == "resumable" && r.URL.Query().Get("upload_id") == "" &&
		hasPrefix(r.URL.Path, "/upload/storage/v1/b/")
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// startUpload opens a session for an authorized caller.
// https://cloud.google.com/storage/docs/json_api/v1/objects/insert
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request, bucket string) {
	var meta struct {
		Name        string            `json:"name"`
		ContentType string            `json:"contentType"`
		Metadata    map[string]string `json:"metadata"`
		MD5Hash     string            `json:"md5Hash"`
		CRC32C      string            `json:"crc32c"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, "invalid", "The request body could not be read."))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &meta); err != nil {
			writeError(w, newError(http.StatusBadRequest, "parseError", "Parse Error"))
			return
		}
	}
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		name = meta.Name
	}
	if name == "" {
		writeError(w, required("resource.name"))
		return
	}
	sess := &uploadSession{bucket: bucket, name: name, meta: meta.Metadata, ctype: meta.ContentType, wantMD5: meta.MD5Hash, wantCRC: meta.CRC32C,
		md5: md5.New(), crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	if g := q.Get("ifGenerationMatch"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			writeError(w, invalidField("ifGenerationMatch", g, "Invalid value."))
			return
		}
		sess.ifGen = &n
	}
	dir := filepath.Join(s.workDir, "uploads")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		writeError(w, uploadFailed(err))
		return
	}
	f, err := os.CreateTemp(dir, "session-")
	if err != nil {
		writeError(w, uploadFailed(err))
		return
	}
	sess.file, sess.path = f, f.Name()
	id := strconv.FormatUint(s.ids.resourceID(), 36) + "-" + filepath.Base(f.Name())
	s.uploads.mu.Lock()
	if s.uploads.sessions == nil {
		s.uploads.sessions = map[string]*uploadSession{}
	}
	s.uploads.sessions[id] = sess
	s.uploads.mu.Unlock()
	s.mu.Lock()
	host := s.storageHost
	s.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s&upload_id=%s",
		host, url.PathEscape(bucket), url.QueryEscape(name), id))
	w.WriteHeader(http.StatusOK)
}

// serveUpload takes a chunk, a status query or a cancel on a session URI.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("upload_id")
	s.uploads.mu.Lock()
	sess := s.uploads.sessions[id]
	s.uploads.mu.Unlock()
	if sess == nil {
		writeError(w, newError(http.StatusNotFound, "notFound", "No such upload session."))
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.canceled {
		writeError(w, newError(http.StatusNotFound, "notFound", "No such upload session."))
		return
	}
	if r.Method == http.MethodDelete {
		sess.canceled = true
		sess.file.Close()
		os.Remove(sess.path)
		w.WriteHeader(499)
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		writeError(w, newError(http.StatusMethodNotAllowed, "methodNotAllowed", "Method not allowed on an upload session."))
		return
	}
	if sess.done != nil {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(sess.done)
		return
	}
	first, last, total := int64(-1), int64(-1), int64(-1)
	if cr := r.Header.Get("Content-Range"); cr != "" {
		m := contentRangeRule.FindStringSubmatch(cr)
		if m == nil {
			writeError(w, newError(http.StatusBadRequest, "invalid", "Failed to parse Content-Range header."))
			return
		}
		if m[1] != "" {
			first, _ = strconv.ParseInt(m[1], 10, 64)
			last, _ = strconv.ParseInt(m[2], 10, 64)
			if last < first {
				writeError(w, newError(http.StatusBadRequest, "invalid", "Failed to parse Content-Range header."))
				return
			}
		}
		if m[3] != "*" {
			total, _ = strconv.ParseInt(m[3], 10, 64)
		}
	} else {
		first = 0 // a single request holding the whole object
	}
	if first >= 0 {
		if first > sess.held {
			writeError(w, newError(http.StatusBadRequest, "invalid", "Invalid request. The chunk starts at byte %d, but the session holds %d bytes.", first, sess.held))
			return
		}
		// A chunk other than the last that is not a whole number of 256 KiB units is refused, and
		// none of it is kept (https://github.com/fsouza/fake-gcs-server/issues/1080 quotes the
		// answer of the real service).
		if total < 0 && last >= 0 && (last+1-first)%uploadChunkMultiple != 0 {
			writeError(w, newError(http.StatusBadRequest, "invalid", "Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, "+
				"except for the final request (it's recommended to be the exact multiple of 262144). The received request contained %d bytes, which does not meet this requirement.", last+1-first))
			return
		}
		if err := s.appendChunk(sess, r.Body, first, last); err != nil {
			writeError(w, err)
			return
		}
		if last >= 0 && last+1 != sess.held {
			writeError(w, newError(http.StatusBadRequest, "invalid", "The chunk's length does not match its Content-Range."))
			return
		}
		if last < 0 {
			total = sess.held // no Content-Range: the body was the object
		}
	}
	if total >= 0 && sess.held == total {
		s.commitUpload(w, sess)
		return
	}
	if total >= 0 && sess.held > total {
		writeError(w, newError(http.StatusBadRequest, "invalid", "The session holds more bytes than the declared total."))
		return
	}
	if sess.held > 0 {
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", sess.held-1))
	}
	// Google's client libraries ask, with X-GUploader-No-308: yes, for 200 OK carrying
	// X-HTTP-Status-Code-Override: 308 instead, since 308 has become Permanent Redirect (RFC 7538).
	// (https://github.com/googleapis/google-api-go-client/blob/main/internal/gensupport/resumable.go)
	if r.Header.Get("X-GUploader-No-308") == "yes" {
		w.Header().Set("X-HTTP-Status-Code-Override", "308")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusPermanentRedirect) // 308 Resume Incomplete
}

// appendChunk writes a chunk's new bytes to the session's file, skipping those it holds already.
func (s *Server) appendChunk(sess *uploadSession, body io.Reader, first, last int64) *apiError {
	if skip := sess.held - first; skip > 0 {
		if _, err := io.CopyN(io.Discard, body, skip); err != nil {
			return newError(http.StatusBadRequest, "invalid", "The chunk ended before the bytes the session holds.")
		}
	}
	var src io.Reader = body
	if last >= 0 {
		src = io.LimitReader(body, last+1-sess.held)
	}
	n, err := io.Copy(io.MultiWriter(sess.file, sess.md5, sess.crc), src)
	sess.held += n
	if err != nil {
		return newError(http.StatusServiceUnavailable, "backendError", "The chunk was cut short; query the session and resume.")
	}
	if last >= 0 {
		if m, _ := body.Read(make([]byte, 1)); m > 0 {
			return newError(http.StatusBadRequest, "invalid", "The chunk is longer than its Content-Range.")
		}
	}
	return nil
}

// commitUpload checks the declared checksums and the generation condition, then makes the object.
func (s *Server) commitUpload(w http.ResponseWriter, sess *uploadSession) {
	gotMD5 := base64.StdEncoding.EncodeToString(sess.md5.Sum(nil))
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], sess.crc.Sum32())
	gotCRC := base64.StdEncoding.EncodeToString(crc[:])
	if (sess.wantMD5 != "" && sess.wantMD5 != gotMD5) || (sess.wantCRC != "" && sess.wantCRC != gotCRC) {
		writeError(w, newError(http.StatusBadRequest, "invalid", "Provided MD5 hash or CRC32C checksum does not match the calculated one."))
		return
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if sess.ifGen != nil {
		var gen int64
		if o, err := s.storage.GetObjectStreaming(sess.bucket, sess.name); err == nil {
			gen = o.Generation
			o.Close()
		}
		if gen != *sess.ifGen {
			writeError(w, newError(http.StatusPreconditionFailed, "conditionNotMet", "At least one of the pre-conditions you specified did not hold."))
			return
		}
	}
	if _, err := sess.file.Seek(0, io.SeekStart); err != nil {
		writeError(w, uploadFailed(err))
		return
	}
	ctype := sess.ctype
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	err := s.storage.CreateObjectStreaming(fakestorage.StreamingObject{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: sess.bucket, Name: sess.name,
		ContentType: ctype, Metadata: sess.meta, Md5Hash: gotMD5, Crc32c: gotCRC, Etag: gotMD5, Size: sess.held}, Content: sess.file})
	sess.file.Close()
	os.Remove(sess.path)
	if err != nil {
		writeError(w, uploadFailed(err))
		return
	}
	s.changed()
	// The answer is the object resource, as objects.get gives it.
	rec := httptest.NewRecorder()
	get := httptest.NewRequest(http.MethodGet, "/storage/v1/b/"+url.PathEscape(sess.bucket)+"/o/"+url.PathEscape(sess.name), nil)
	get.Host = storagePublicHost
	s.storage.HTTPHandler().ServeHTTP(rec, get)
	sess.done = rec.Body.Bytes()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(sess.done)
}

func uploadFailed(err error) *apiError {
	return newError(http.StatusInternalServerError, "backendError", "storing the upload: %v", err)
}
