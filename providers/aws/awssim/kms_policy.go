package awssim

// https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html
func (s *Server) kmsPutKeyPolicy(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
		Policy     string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, badRequest("ValidationException", "PolicyName must be default")
	}
	// The document is checked before the key is looked up, as KMS validates
	// request parameters first.
	if _, err := parseKeyPolicy(in.Policy); err != nil {
		return nil, badRequest("MalformedPolicyDocumentException", "The key policy is not valid: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "PutKeyPolicy")
	if e != nil {
		return nil, e
	}
	if key.awsManaged {
		return nil, kmsAccessDenied(r.principal, "PutKeyPolicy", key.arn)
	}
	if err := key.setPolicy(in.Policy); err != nil {
		return nil, badRequest("MalformedPolicyDocumentException", "The key policy is not valid: %v", err)
	}
	return struct{}{}, nil
}

// https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html
func (s *Server) kmsGetKeyPolicy(r *kmsRequest) (any, *apiError) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, e := s.usableKey(r, in.KeyID, "GetKeyPolicy")
	if e != nil {
		return nil, e
	}
	return struct{ Policy, PolicyName string }{key.policyDoc, "default"}, nil
}
