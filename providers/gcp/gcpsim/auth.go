package gcpsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// tokenPath is the OAuth 2.0 token endpoint: the token_uri of the key
	// files cloudsim writes.
	tokenPath = "/token"
	// iamCredentialsPrefix is IAM Credentials'
	// projects.serviceAccounts.generateAccessToken path.
	iamCredentialsPrefix = "/v1/projects/-/serviceAccounts/"

	jwtBearerGrant     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
	computeScope       = "https://www.googleapis.com/auth/compute"
	computeReadScope   = "https://www.googleapis.com/auth/compute.readonly"
	iamScope           = "https://www.googleapis.com/auth/iam"
	userinfoEmailScope = "https://www.googleapis.com/auth/userinfo.email"
	refreshTokenGrant  = "refresh_token"
	// userinfoPath is Google's OAuth 2.0 userinfo endpoint (the oauth2 v2 API's userinfo.get).
	userinfoPath = "/oauth2/v2/userinfo"
	// SimClientID and SimClientSecret are the OAuth client of the authorized_user files
	// UserFile writes: the client gcloud's own stands for.
	SimClientID      = "764086051850-gcpsim.apps.googleusercontent.com"
	SimClientSecret  = "gcpsim-client-secret"
	maxTokenLifetime = time.Hour
)

// principal is the authenticated caller: a service account or a user, and
// the scopes of its access token.
type principal struct {
	email  string
	user   bool
	scopes []string
}

func (p *principal) member() string {
	if p.user {
		return "user:" + p.email
	}
	return "serviceAccount:" + p.email
}

func (p *principal) String() string {
	if p == nil {
		return ""
	}
	return p.email
}

func (p *principal) hasScope(scopes ...string) bool {
	for _, s := range scopes {
		if slices.Contains(p.scopes, s) {
			return true
		}
	}
	return false
}

// requireComputeScope refuses a token whose scopes do not reach Compute
// Engine (cloud-platform or compute; compute.readonly for reads).
// https://cloud.google.com/compute/docs/access/service-accounts#accesscopesiam
func (p *principal) requireComputeScope(mutating bool) *apiError {
	if p.hasScope(cloudPlatformScope, computeScope) || (!mutating && p.hasScope(computeReadScope)) {
		return nil
	}
	return &apiError{Code: http.StatusForbidden, Reason: "insufficientPermissions",
		Message: "Request had insufficient authentication scopes.", Status: "PERMISSION_DENIED"}
}

// accessToken is what an access token carries, signed with the server's
// token key: no table of tokens is needed, and tokens survive a restart
// with the saved key.
type accessToken struct {
	Email   string   `json:"e"`
	User    bool     `json:"u,omitempty"`
	Scopes  []string `json:"s"`
	Expires int64    `json:"x"`
}

func (s *Server) mintToken(email string, scopes []string, expires time.Time) string {
	return s.mint(accessToken{Email: email, Scopes: scopes, Expires: expires.Unix()})
}

func (s *Server) mint(t accessToken) string {
	payload, _ := json.Marshal(t)
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte("access\x00"))
	mac.Write(payload)
	return "ya29.sim." + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) openToken(tok string) (*accessToken, bool) {
	rest, ok := strings.CutPrefix(tok, "ya29.sim.")
	if !ok {
		return nil, false
	}
	p64, m64, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sum, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte("access\x00"))
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)) {
		return nil, false
	}
	var t accessToken
	if json.Unmarshal(payload, &t) != nil {
		return nil, false
	}
	return &t, true
}

// authenticate reads the bearer token of a request.
// https://cloud.google.com/docs/authentication/rest
func (s *Server) authenticate(r *http.Request, now time.Time) (*principal, *apiError) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, &apiError{Code: http.StatusUnauthorized, Reason: "required", Status: "UNAUTHENTICATED",
			Message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."}
	}
	t, ok := s.openToken(tok)
	if !ok || !now.Before(time.Unix(t.Expires, 0)) {
		return nil, &apiError{Code: http.StatusUnauthorized, Reason: "authError", Status: "UNAUTHENTICATED",
			Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."}
	}
	s.mu.Lock()
	known := s.st.serviceAccounts[t.Email] != nil
	if t.User {
		known = s.st.users[t.Email] != nil
	}
	s.mu.Unlock()
	if !known {
		return nil, &apiError{Code: http.StatusUnauthorized, Reason: "authError", Status: "UNAUTHENTICATED", Message: "Request had invalid authentication credentials."}
	}
	return &principal{email: t.Email, user: t.User, scopes: t.Scopes}, nil
}

// refreshToken is a user's refresh token: the account, signed with the
// token key, so that it survives a restart with the saved key.
func (s *Server) refreshToken(email string) string {
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte("refresh\x00" + email))
	return "1//sim." + base64.RawURLEncoding.EncodeToString([]byte(email)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// refreshUser answers the refresh-token grant of user credentials (the
// authorized_user files gcloud auth application-default login writes): the
// client's ID and secret, in the form or as HTTP basic authentication, and
// the refresh token it was given; scope, when sent, a subset of what the
// token grants.
// https://developers.google.com/identity/protocols/oauth2/web-server#offline
func (s *Server) refreshUser(w http.ResponseWriter, r *http.Request) (*userAccount, []string, bool) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != SimClientID || secret != SimClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return nil, nil, false
	}
	rt := r.PostForm.Get("refresh_token")
	var u *userAccount
	if rest, ok := strings.CutPrefix(rt, "1//sim."); ok {
		if e64, _, ok := strings.Cut(rest, "."); ok {
			if email, err := base64.RawURLEncoding.DecodeString(e64); err == nil && hmac.Equal([]byte(rt), []byte(s.refreshToken(string(email)))) {
				s.mu.Lock()
				u = s.st.users[string(email)]
				s.mu.Unlock()
			}
		}
	}
	if u == nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return nil, nil, false
	}
	scopes := u.scopes
	if asked := strings.Fields(r.PostForm.Get("scope")); len(asked) > 0 {
		for _, sc := range asked {
			if !slices.Contains(u.scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "Some requested scopes were invalid. {invalid=["+sc+"]}")
				return nil, nil, false
			}
		}
		scopes = asked
	}
	return u, scopes, true
}

// serveUserinfo is the OAuth 2.0 userinfo endpoint: who the bearer token
// was issued to, its email only when the token carries the email scope.
// https://developers.google.com/identity/openid-connect/openid-connect#obtaininguserprofileinformation
func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, newError(http.StatusMethodNotAllowed, "badRequest", "Method %s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	who, e := s.authenticate(r, s.now())
	if e != nil {
		writeError(w, e)
		return
	}
	s.count("oauth2.userinfo.get")
	if !who.hasScope("openid", "email", "profile", userinfoEmailScope, "https://www.googleapis.com/auth/userinfo.profile") {
		writeError(w, &apiError{Code: http.StatusUnauthorized, Reason: "authError", Status: "UNAUTHENTICATED",
			Message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."})
		return
	}
	sum := sha256.Sum256([]byte(who.member()))
	out := map[string]any{"id": strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>1, 10)}
	if who.hasScope("email", userinfoEmailScope) {
		out["email"], out["verified_email"] = who.email, true
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(out)
}

// oauthError is the token endpoint's error body.
// https://datatracker.ietf.org/doc/html/rfc6749#section-5.2
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// googleTokenAudience is the audience Google documents for every access token request.
const googleTokenAudience = "https://oauth2.googleapis.com/token"

// serveToken is the JWT bearer grant of service-account keys: the client
// signs a JWT with the account's private key (RS256; iss the account, aud
// the token URI, scope, iat and exp at most an hour apart) and exchanges it
// for an access token.
// https://developers.google.com/identity/protocols/oauth2/service-account#httprest
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint takes POST.")
		return
	}
	s.count("oauth2.token")
	fault := s.faults.forCall("oauth2.token")
	if err := s.sleep(r.Context(), fault.delay); err != nil {
		return
	}
	if fault.reply != nil {
		writeError(w, fault.reply)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a form.")
		return
	}
	if r.PostForm.Get("grant_type") == refreshTokenGrant {
		u, scopes, ok := s.refreshUser(w, r)
		if !ok {
			return
		}
		expires := now.Add(DefaultTokenLifetime)
		if fault.lostReply {
			loseReply(w)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": s.mint(accessToken{Email: u.email, User: true, Scopes: scopes, Expires: expires.Unix()}),
			"expires_in":   int(DefaultTokenLifetime.Seconds()) - 1,
			"scope":        strings.Join(scopes, " "),
			"token_type":   "Bearer",
		})
		return
	}
	if g := r.PostForm.Get("grant_type"); g != jwtBearerGrant {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+g)
		return
	}
	// The assertion is checked against the wall clock, which clients sign
	// it with, whatever Options.Now says.
	claims, err := s.verifyAssertion(r, r.PostForm.Get("assertion"), time.Now())
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	expires := now.Add(DefaultTokenLifetime)
	if fault.lostReply {
		loseReply(w)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": s.mintToken(claims.Issuer, scopes, expires),
		"expires_in":   int(DefaultTokenLifetime.Seconds()) - 1,
		"token_type":   "Bearer",
	})
}

type assertionClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
}

// verifyAssertion checks a JWT bearer assertion; its errors are the token
// endpoint's error descriptions.
func (s *Server) verifyAssertion(r *http.Request, assertion string, now time.Time) (*assertionClaims, error) {
	var claims assertionClaims
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	_, err := parser.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		s.mu.Lock()
		sa := s.st.serviceAccounts[iss]
		s.mu.Unlock()
		if sa == nil {
			return nil, errors.New("Invalid grant: account not found")
		}
		if kid, ok := t.Header["kid"].(string); ok && kid != "" && kid != sa.keyID {
			return nil, errors.New("Invalid JWT Signature.")
		}
		return &sa.key.PublicKey, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, errors.New("Invalid JWT Signature.")
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case err != nil:
		var inner interface{ Unwrap() []error }
		if errors.As(err, &inner) {
			for _, e := range inner.Unwrap() {
				if strings.HasPrefix(e.Error(), "Invalid grant") {
					return nil, e
				}
			}
		}
		return nil, fmt.Errorf("Invalid JWT: %v", err)
	}
	if claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxTokenLifetime {
		return nil, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	// The audience is the token endpoint: "When making an access token request this value is always
	// https://oauth2.googleapis.com/token" (the service-account page above), which gcloud sends
	// whatever token_uri the key names; the Go and Python libraries send the key's token_uri, here
	// this endpoint.
	aud := ""
	if len(claims.Audience) == 1 {
		aud = claims.Audience[0]
	}
	if u, err := url.Parse(aud); aud != googleTokenAudience && (err != nil || u.Path != tokenPath || u.Host != r.Host) {
		return nil, fmt.Errorf("Invalid JWT: the audience %q is not this token endpoint", aud)
	}
	if claims.Subject != "" && claims.Subject != claims.Issuer {
		return nil, errors.New("Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
	}
	return &claims, nil
}

// serveGenerateAccessToken is IAM Credentials'
// projects.serviceAccounts.generateAccessToken: a caller holding
// iam.serviceAccounts.getAccessToken on a service account gets a token for
// it. It is how gcloud's --impersonate-service-account and ADC files of type
// impersonated_service_account work.
// https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken
func (s *Server) serveGenerateAccessToken(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	rest := strings.TrimPrefix(r.URL.Path, iamCredentialsPrefix)
	email, ok := strings.CutSuffix(rest, ":generateAccessToken")
	if !ok || r.Method != http.MethodPost {
		writeError(w, newError(http.StatusNotFound, "notFound", "The requested URL %s was not found on this server.", r.URL.Path))
		return
	}
	caller, e := s.authenticate(r, now)
	if e != nil {
		writeError(w, e)
		return
	}
	s.count("iamcredentials.generateAccessToken")
	fault := s.faults.forCall("iamcredentials.generateAccessToken")
	if err := s.sleep(r.Context(), fault.delay); err != nil {
		return
	}
	if fault.reply != nil {
		writeError(w, fault.reply)
		return
	}
	if !caller.hasScope(cloudPlatformScope, iamScope) {
		writeError(w, &apiError{Code: http.StatusForbidden, Reason: "insufficientPermissions", Status: "PERMISSION_DENIED", Message: "Request had insufficient authentication scopes."})
		return
	}
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var req struct {
		Delegates []string `json:"delegates"`
		Scope     []string `json:"scope"`
		Lifetime  string   `json:"lifetime"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT", Message: "Invalid JSON payload received."})
		return
	}
	lifetime := maxTokenLifetime
	if req.Lifetime != "" {
		secs, ok := strings.CutSuffix(req.Lifetime, "s")
		d, err := time.ParseDuration(secs + "s")
		if !ok || err != nil || d <= 0 || d > maxTokenLifetime {
			writeError(w, &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT",
				Message: fmt.Sprintf("Requested lifetime %q is not valid: it must be at most 3600s.", req.Lifetime)})
			return
		}
		lifetime = d
	}
	if len(req.Scope) == 0 {
		writeError(w, &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT", Message: "Scope is required."})
		return
	}
	if len(req.Delegates) > 0 {
		writeError(w, &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT", Message: "Delegation chains are not simulated."})
		return
	}
	s.mu.Lock()
	target := s.st.serviceAccounts[email]
	allowed := target != nil && (slices.Contains(target.tokenCreators, caller.member()) ||
		s.allowed(caller, s.st.projects[target.project], "iam.serviceAccounts.getAccessToken", nil))
	s.mu.Unlock()
	if !allowed {
		// The same answer whether the account exists or not.
		writeError(w, &apiError{Code: http.StatusForbidden, Reason: "forbidden", Status: "PERMISSION_DENIED",
			Message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."})
		return
	}
	expires := now.Add(lifetime)
	if fault.lostReply {
		loseReply(w)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]string{
		"accessToken": s.mintToken(email, req.Scope, expires),
		"expireTime":  expires.UTC().Format(time.RFC3339),
	})
}
