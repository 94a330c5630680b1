package awssim

import (
	"strconv"
	"strings"
	"time"
)

// sessionTokenPrefix starts every session token, as STS tokens start with a
// fixed prefix.
const sessionTokenPrefix = "FwoGZXIvYXdzE"

// newSession issues temporary credentials for p that expire at expires.
// Callers hold Server.mu.
func (s *Server) newSession(expires time.Time, p *principal) *credential {
	cred := s.sessionCredential(s.ids.next(kindSession), expires, p)
	s.st.credentials[cred.accessKeyID] = cred
	s.st.noteDeadline(expires)
	return cred
}

// sessionCredential builds the credentials of session number n. Its keys and
// token derive from the seed, n and expires alone, so that a restored session
// answers with the credentials it was issued with.
func (s *Server) sessionCredential(n uint64, expires time.Time, p *principal) *credential {
	num := strconv.FormatUint(n, 10)
	accessKeyID := "ASIA" + strings.ToUpper(s.ids.derive(16, kindSession+"-key", num))
	return &credential{
		accessKeyID:     accessKeyID,
		secretAccessKey: s.ids.derive(40, kindSession+"-secret", num),
		sessionToken:    s.sessionToken(accessKeyID, expires),
		expires:         expires,
		principal:       p,
		session:         n,
	}
}

// sessionPrincipal is who a session of role named session acts as.
func sessionPrincipal(acct *account, r *role, session string) *principal {
	return &principal{
		accountID: acct.id,
		arn:       "arn:aws:sts::" + acct.id + ":assumed-role/" + r.name + "/" + session,
		userID:    r.id + ":" + session,
		allow:     r.allow,
		roleARN:   r.arn,
		session:   session,
	}
}

// sessionToken carries the session's expiry, signed together with its
// access key ID. An STS session token describes itself: once a session has
// expired and the simulator has forgotten it, the token still tells an
// expired session (ExpiredToken) from an unknown key.
func (s *Server) sessionToken(accessKeyID string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return sessionTokenPrefix + exp + "." + s.sign("session|"+accessKeyID+"|"+exp)
}

// expiredSessionToken reports whether token is a genuine session token for
// accessKeyID whose expiry has passed at now.
func (s *Server) expiredSessionToken(accessKeyID, token string, now time.Time) bool {
	rest, ok := strings.CutPrefix(token, sessionTokenPrefix)
	if !ok {
		return false
	}
	exp, sig, ok := strings.Cut(rest, ".")
	if !ok || sig != s.sign("session|"+accessKeyID+"|"+exp) {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && !now.Before(time.Unix(unix, 0))
}
