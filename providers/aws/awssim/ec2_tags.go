package awssim

import "strings"

// taggedResource returns the tags of a resource the caller owns in the
// request's region, by ID prefix. Callers hold s.mu.
func (s *Server) taggedResource(r *ec2Request, id string) (tags, *apiError) {
	switch {
	case strings.HasPrefix(id, "snap-"):
		snap, e := s.findOwnSnapshot(r, id)
		if e != nil {
			return nil, e
		}
		return snap.tags, nil
	case strings.HasPrefix(id, "vol-"):
		v, e := s.findVolume(r, id)
		if e != nil {
			return nil, e
		}
		return v.tags, nil
	case strings.HasPrefix(id, "i-"):
		in, e := s.findInstance(r, id)
		if e != nil {
			return nil, e
		}
		return in.tags, nil
	}
	return nil, badRequest("InvalidID", "The ID '%s' is not valid", id)
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTags.html
func (s *Server) createTags(r *ec2Request) (ec2Body, *apiError) {
	ids, pairs := r.q.list("ResourceId"), r.q.tagList("Tag")
	if len(ids) == 0 {
		return nil, errMissingParameter("ResourceId")
	}
	if len(pairs) == 0 {
		return nil, errMissingParameter("Tag")
	}
	for _, p := range pairs {
		if e := validateTag(p); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var targets []tags
	for _, id := range ids {
		t, e := s.taggedResource(r, id)
		if e != nil {
			return nil, e
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		// A resource has at most 50 user tags.
		// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
		added := 0
		for _, p := range pairs {
			if _, ok := t[p.key]; !ok {
				added++
			}
		}
		if len(t)+added > 50 {
			return nil, badRequest("TagLimitExceeded", "The maximum number of tags for a resource is 50.")
		}
	}
	for _, t := range targets {
		for _, p := range pairs {
			t[p.key] = p.value
		}
	}
	return &ec2Return{Return: true}, nil
}

// DeleteTags removes the named tags (only those with the given value, when a
// value is given), or every tag when none is named.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteTags.html
func (s *Server) deleteTags(r *ec2Request) (ec2Body, *apiError) {
	ids, pairs := r.q.list("ResourceId"), r.q.tagList("Tag")
	if len(ids) == 0 {
		return nil, errMissingParameter("ResourceId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		t, e := s.taggedResource(r, id)
		if e != nil {
			return nil, e
		}
		if len(pairs) == 0 {
			clear(t)
		}
		for _, p := range pairs {
			if v, ok := t[p.key]; ok && (!p.hasValue || v == p.value) {
				delete(t, p.key)
			}
		}
	}
	return &ec2Return{Return: true}, nil
}
