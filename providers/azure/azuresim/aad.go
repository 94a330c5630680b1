package azuresim

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The Microsoft identity platform's client credentials flow, as MSAL (and
// so azidentity and the Azure CLI) runs it: OpenID Connect discovery,
// instance discovery, and the token endpoint with a client secret or a
// client assertion.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// https://learn.microsoft.com/entra/identity-platform/certificate-credentials

// Audiences the simulator issues tokens for.
const (
	armAudience     = "https://management.core.windows.net/"
	armAudienceAlt  = "https://management.azure.com/"
	diskAudience    = "https://disk.azure.com/"
	storageAudience = "https://storage.azure.com/"
)

// aadError is the token endpoint's error body.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
type aadError struct {
	status      int
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	Timestamp   string `json:"timestamp"`
	TraceID     string `json:"trace_id"`
	Correlation string `json:"correlation_id"`
}

func aadFail(status int, kind string, code int, format string, args ...any) *aadError {
	return &aadError{status: status, Error: kind, Codes: []int{code},
		Description: fmt.Sprintf("AADSTS%d: %s", code, fmt.Sprintf(format, args...))}
}

func (s *Server) serveAAD(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	tenantSeg, rest := parts[0], strings.Join(parts[1:], "/")
	base := "https://" + r.Host
	w.Header().Set("x-ms-request-id", s.ids.newGUID("aad-request"))
	switch {
	case strings.EqualFold(tenantSeg, "common") && rest == "discovery/instance":
		s.count("InstanceDiscovery")
		s.instanceDiscovery(w, r, base)
	case strings.EqualFold(tenantSeg, "adfs") && rest == ".well-known/openid-configuration":
		s.count("OpenIDConfiguration")
		writeJSON(w, http.StatusOK, openIDConfig(base+"/adfs", base+"/adfs/oauth2/token", base+"/adfs/oauth2/authorize"))
	case rest == "v2.0/.well-known/openid-configuration" || rest == ".well-known/openid-configuration":
		s.count("OpenIDConfiguration")
		prefix := base + "/" + tenantSeg
		if rest == ".well-known/openid-configuration" {
			writeJSON(w, http.StatusOK, openIDConfig("https://sts.windows.net/"+tenantSeg+"/", prefix+"/oauth2/token", prefix+"/oauth2/authorize"))
			return
		}
		writeJSON(w, http.StatusOK, openIDConfig(prefix+"/v2.0", prefix+"/oauth2/v2.0/token", prefix+"/oauth2/v2.0/authorize"))
	case rest == "discovery/v2.0/keys" || rest == "discovery/keys":
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{s.jwk()}})
	case r.Method == http.MethodPost && (rest == "oauth2/v2.0/token" || rest == "oauth2/token"):
		s.token(w, r, tenantSeg, base)
	default:
		writeJSON(w, http.StatusNotFound, aadFail(http.StatusNotFound, "invalid_request", 900561, "The endpoint only accepts POST requests, or the path is not one the simulator serves."))
	}
}

// openIDConfig is the OpenID Provider metadata MSAL reads; MSAL checks that
// the issuer's host is the authority's.
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
func openIDConfig(issuer, tokenEndpoint, authorizeEndpoint string) map[string]any {
	return map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        tokenEndpoint,
		"authorization_endpoint":                authorizeEndpoint,
		"jwks_uri":                              strings.TrimSuffix(strings.TrimSuffix(tokenEndpoint, "/token"), "/oauth2/v2.0") + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "EU",
	}
}

// instanceDiscovery answers MSAL's authority validation for the simulator's
// own host.
// https://learn.microsoft.com/entra/identity-platform/msal-client-application-configuration#authority
func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request, base string) {
	authz := r.URL.Query().Get("authorization_endpoint")
	u, err := url.Parse(authz)
	if err != nil || u.Host == "" {
		writeJSON(w, http.StatusBadRequest, aadFail(http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance."))
		return
	}
	tenantSeg := strings.SplitN(strings.Trim(u.Path, "/"), "/", 2)[0]
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + u.Host + "/" + tenantSeg + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []any{map[string]any{"preferred_network": u.Host, "preferred_cache": u.Host, "aliases": []string{u.Host}}},
	})
}

// token is the token endpoint: client credentials only.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenantSeg, base string) {
	s.count("Token")
	fault := s.faults.forCall("Token")
	if err := s.sleep(r.Context(), fault.delay); err != nil {
		return
	}
	if fault.serverError != 0 {
		writeJSON(w, fault.serverError, aadFail(fault.serverError, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."))
		return
	}
	if fault.throttle != 0 {
		w.Header().Set("Retry-After", fmt.Sprint(fault.throttle))
		writeJSON(w, http.StatusTooManyRequests, aadFail(http.StatusTooManyRequests, "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, aadFail(http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded."))
		return
	}
	tok, e := s.issue(r.PostForm, tenantSeg, base)
	if e != nil {
		e.Timestamp = s.now().UTC().Format("2006-01-02 15:04:05Z")
		e.TraceID, e.Correlation = s.ids.newGUID("aad-trace"), r.PostForm.Get("client-request-id")
		writeJSON(w, e.status, e)
		return
	}
	s.changed()
	writeJSON(w, http.StatusOK, tok)
}

// issue checks a client credentials request and mints its token.
func (s *Server) issue(form url.Values, tenantSeg, base string) (map[string]any, *aadError) {
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		return nil, aadFail(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'; the simulator serves client_credentials only.", gt)
	}
	clientID := form.Get("client_id")
	s.mu.Lock()
	p := s.st.principals[strings.ToLower(clientID)]
	var t *tenant
	if tenantSeg == "adfs" {
		// An AD FS-style authority names no tenant: the application's own.
		if p != nil {
			t = s.st.tenants[p.tenantID]
		}
	} else {
		t = s.tenantByIDOrName(tenantSeg)
	}
	s.mu.Unlock()
	switch {
	case strings.EqualFold(tenantSeg, "common") || strings.EqualFold(tenantSeg, "organizations"):
		return nil, aadFail(http.StatusBadRequest, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials; the client credentials flow needs a tenant.")
	case t == nil && tenantSeg != "adfs":
		return nil, aadFail(http.StatusBadRequest, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenantSeg)
	case p == nil || t == nil || p.tenantID != t.id:
		tid := tenantSeg
		if t != nil {
			tid = t.id
		}
		return nil, aadFail(http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'.", clientID, tid)
	}
	if e := s.checkClientCredential(form, p, base, tenantSeg); e != nil {
		return nil, e
	}
	resource := form.Get("resource")
	if scope := form.Get("scope"); scope != "" {
		// One resource's /.default scope, as the client credentials flow
		// requires.
		var res []string
		for _, sc := range strings.Fields(scope) {
			if sc == "offline_access" || sc == "openid" || sc == "profile" {
				continue
			}
			if !strings.HasSuffix(sc, "/.default") {
				return nil, aadFail(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)
			}
			res = append(res, strings.TrimSuffix(sc, ".default"))
		}
		if len(res) != 1 {
			return nil, aadFail(http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid: name exactly one resource.")
		}
		resource = res[0]
	}
	aud, ok := knownResource(resource)
	if !ok {
		return nil, aadFail(http.StatusBadRequest, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s.", resource, t.id)
	}
	now := s.now()
	exp := now.Add(s.tokenLife)
	claims := jwt.MapClaims{
		"aud": aud, "iss": "https://sts.windows.net/" + t.id + "/", "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
		"appid": p.clientID, "appidacr": appIDACR(form), "idp": "https://sts.windows.net/" + t.id + "/", "idtyp": "app",
		"oid": p.objectID, "sub": p.objectID, "tid": t.id, "ver": "1.0", "uti": s.ids.newGUID("token"),
	}
	token := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	token.Header["kid"] = s.keyID()
	signed, err := token.SignedString(s.tokenKey)
	if err != nil {
		return nil, aadFail(http.StatusInternalServerError, "server_error", 90100, "signing the token: %v", err)
	}
	life := int(s.tokenLife / time.Second)
	return map[string]any{"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": signed,
		"expires_on": fmt.Sprint(exp.Unix()), "not_before": fmt.Sprint(now.Unix()), "resource": aud}, nil
}

func appIDACR(form url.Values) string {
	if form.Get("client_assertion") != "" {
		return "2" // certificate
	}
	return "1" // secret
}

// knownResource maps a requested resource to the audience of its tokens.
func knownResource(resource string) (string, bool) {
	switch strings.TrimRight(strings.ToLower(resource), "/") {
	case "https://management.core.windows.net":
		return armAudience, true
	case "https://management.azure.com":
		return armAudienceAlt, true
	case "https://disk.azure.com":
		return diskAudience, true
	case "https://storage.azure.com":
		return storageAudience, true
	}
	return "", false
}

// checkClientCredential verifies a client secret, or a client assertion: a
// JWT signed with the registered certificate's key, naming the
// certificate's thumbprint (x5t, or x5t#S256), with the client as iss and
// sub, the token endpoint as aud, and a valid lifetime.
// https://learn.microsoft.com/entra/identity-platform/certificate-credentials#assertion-format
func (s *Server) checkClientCredential(form url.Values, p *principal, base, tenantSeg string) *aadError {
	if secret := form.Get("client_secret"); secret != "" {
		if p.secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(p.secret)) != 1 {
			return aadFail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", p.clientID)
		}
		return nil
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return aadFail(http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return aadFail(http.StatusBadRequest, "invalid_request", 50027, "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
	}
	if p.cert == nil {
		return aadFail(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: no certificate is registered for app '%s'.", p.clientID)
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		if !thumbprintMatches(t.Header, p.cert) {
			return nil, fmt.Errorf("the assertion names another certificate")
		}
		return p.cert.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256", "PS256", "ES256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Minute), jwt.WithIssuer(p.clientID), jwt.WithSubject(p.clientID))
	if err != nil {
		return aadFail(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: %v.", err)
	}
	// The audience is the token endpoint the client was told of.
	okAud := false
	for _, a := range claims.Audience {
		if u, err := url.Parse(a); err == nil && strings.EqualFold(u.Host, strings.TrimPrefix(base, "https://")) {
			okAud = true
		}
	}
	if !okAud {
		return aadFail(http.StatusUnauthorized, "invalid_client", 700212, "No matching federated identity record found for presented assertion audience '%s'.", strings.Join(claims.Audience, " "))
	}
	return nil
}

// thumbprintMatches compares the assertion header's x5t (SHA-1) or x5t#S256
// (SHA-256) thumbprint with the registered certificate; MSAL writes them in
// standard base64, RFC 7515 in base64url, and both are taken.
func thumbprintMatches(h map[string]any, cert *x509.Certificate) bool {
	encodings := func(sum []byte) []string {
		return []string{base64.RawURLEncoding.EncodeToString(sum), base64.URLEncoding.EncodeToString(sum), base64.StdEncoding.EncodeToString(sum)}
	}
	if v, ok := h["x5t#S256"].(string); ok {
		sum := sha256.Sum256(cert.Raw)
		return slices.Contains(encodings(sum[:]), v)
	}
	if v, ok := h["x5t"].(string); ok {
		sum := sha1.Sum(cert.Raw)
		return slices.Contains(encodings(sum[:]), v)
	}
	return false
}

func certThumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// tenantByIDOrName finds a tenant; callers hold s.mu.
func (s *Server) tenantByIDOrName(v string) *tenant {
	if t := s.st.tenants[strings.ToLower(v)]; t != nil {
		return t
	}
	for _, t := range s.st.tenants {
		if t.name != "" && strings.EqualFold(t.name, v) {
			return t
		}
	}
	return nil
}

func (s *Server) keyID() string {
	sum := sha256.Sum256(append(s.tokenKey.X.Bytes(), s.tokenKey.Y.Bytes()...))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (s *Server) jwk() map[string]any {
	return map[string]any{"kty": "EC", "crv": "P-256", "use": "sig", "kid": s.keyID(), "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(s.tokenKey.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(s.tokenKey.Y.FillBytes(make([]byte, 32)))}
}

// accessToken is a verified bearer token.
type accessToken struct {
	tenantID, objectID, clientID, audience string
	expires                                time.Time
}

// tokenError says why a bearer token is refused.
type tokenError struct {
	code, message string
}

// verifyToken checks a bearer token's signature, lifetime and audience.
// https://learn.microsoft.com/azure/azure-resource-manager/management/authenticate-multi-tenant
func (s *Server) verifyToken(raw string, audiences ...string) (*accessToken, *tokenError) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.tokenKey.PublicKey, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	switch {
	case err != nil && strings.Contains(err.Error(), jwt.ErrTokenExpired.Error()):
		exp, _ := claims.GetExpirationTime()
		when := ""
		if exp != nil {
			when = exp.UTC().Format("01/02/2006 15:04:05")
		}
		return nil, &tokenError{"ExpiredAuthenticationToken", "The access token expiry UTC time '" + when + "' is earlier than current UTC time '" + s.now().UTC().Format("01/02/2006 15:04:05") + "'."}
	case err != nil:
		return nil, &tokenError{"InvalidAuthenticationToken", "The access token is invalid."}
	}
	str := func(k string) string { v, _ := claims[k].(string); return v }
	aud := str("aud")
	okAud := false
	for _, a := range audiences {
		okAud = okAud || strings.EqualFold(strings.TrimSuffix(aud, "/"), strings.TrimSuffix(a, "/"))
	}
	if !okAud {
		return nil, &tokenError{"InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource '" + aud + "'. It should exactly match with one of the allowed audiences '" + strings.Join(audiences, "','") + "'."}
	}
	exp, _ := claims.GetExpirationTime()
	t := &accessToken{tenantID: str("tid"), objectID: str("oid"), clientID: str("appid"), audience: aud}
	if exp != nil {
		t.expires = exp.Time
	}
	return t, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
