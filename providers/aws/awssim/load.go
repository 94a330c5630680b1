package awssim

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// load builds the initial state from a scenario.
func (s *Server) load(sc *Scenario) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, a := range sc.Accounts {
		if !accountIDPattern.MatchString(a.ID) {
			return fmt.Errorf("account %q: the ID must be 12 digits", a.ID)
		}
		if s.st.accounts[a.ID] != nil {
			return fmt.Errorf("account %s defined twice", a.ID)
		}
		acct := &account{id: a.ID, name: a.Name, roles: map[string]*role{},
			ebsDefaultKey: map[string]string{}, encryptionByDefault: map[string]bool{}}
		for _, region := range a.EncryptionByDefault {
			acct.encryptionByDefault[region] = true
		}
		s.st.accounts[a.ID] = acct
		for _, u := range a.Users {
			if err := s.addUser(acct, u); err != nil {
				return err
			}
		}
		for _, r := range a.Roles {
			if err := s.addRole(acct, r); err != nil {
				return err
			}
		}
	}
	// Keys come after every account exists, so that policies may name any.
	for _, a := range sc.Accounts {
		for _, k := range a.Keys {
			if err := s.loadKey(a.ID, k, now); err != nil {
				return fmt.Errorf("account %s key %s: %w", a.ID, k.ID, err)
			}
		}
	}
	for _, a := range sc.Accounts {
		for _, v := range a.Volumes {
			if err := s.loadVolume(a.ID, v, sc.baseDir, now); err != nil {
				return fmt.Errorf("account %s volume %s: %w", a.ID, v.ID, err)
			}
		}
		for _, in := range a.Instances {
			if err := s.loadInstance(a.ID, in, now); err != nil {
				return fmt.Errorf("account %s instance %s: %w", a.ID, in.ID, err)
			}
		}
	}
	return nil
}

func (s *Server) addUser(acct *account, u ScenarioUser) error {
	if u.Name == "" || u.AccessKeyID == "" || u.SecretAccessKey == "" {
		return fmt.Errorf("account %s: a user needs name, accessKeyId and secretAccessKey", acct.id)
	}
	if s.st.credentials[u.AccessKeyID] != nil {
		return fmt.Errorf("access key %s used twice", u.AccessKeyID)
	}
	s.st.credentials[u.AccessKeyID] = &credential{
		seq:             s.st.nextSeq(),
		accessKeyID:     u.AccessKeyID,
		secretAccessKey: u.SecretAccessKey,
		principal: &principal{
			accountID: acct.id,
			arn:       "arn:aws:iam::" + acct.id + ":user/" + u.Name,
			userID:    "AIDA" + strings.ToUpper(s.ids.nextHex(kindUser, 17)),
			allow:     u.Allow,
		},
	}
	return nil
}

func (s *Server) addRole(acct *account, r ScenarioRole) error {
	if r.Name == "" {
		return fmt.Errorf("account %s: role without a name", acct.id)
	}
	// "This setting can have a value from 1 hour to 12 hours."
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html
	maxSession := r.MaxSessionDuration
	if maxSession == 0 {
		maxSession = defaultSessionSeconds
	}
	if maxSession < 3600 || maxSession > maxSessionSeconds {
		return fmt.Errorf("account %s role %s: maxSessionDuration %d is outside 3600-43200 seconds", acct.id, r.Name, r.MaxSessionDuration)
	}
	acct.roles[r.Name] = &role{
		name:       r.Name,
		arn:        "arn:aws:iam::" + acct.id + ":role/" + r.Name,
		id:         "AROA" + strings.ToUpper(s.ids.nextHex(kindRole, 17)),
		trust:      r.Trust,
		allow:      r.Allow,
		maxSession: time.Duration(maxSession) * time.Second,
	}
	return nil
}

func (s *Server) loadKey(accountID string, k ScenarioKey, now time.Time) error {
	if k.Region == "" {
		return fmt.Errorf("region is required")
	}
	usage, spec := k.Usage, k.Spec
	if usage == "" {
		usage = "ENCRYPT_DECRYPT"
	}
	if spec == "" {
		spec = "SYMMETRIC_DEFAULT"
	}
	key, apiErr := s.newKey(accountID, k.Region, keyParams{
		id: k.ID, usage: usage, spec: spec, policy: string(k.Policy),
		description: k.Description, privateKeyPEM: k.PrivateKeyPEM,
	}, now)
	if apiErr != nil {
		return apiErr
	}
	if k.Alias != "" {
		if e := s.createAlias(accountID, k.Region, k.Alias, key, now); e != nil {
			return e
		}
	}
	return nil
}

func (s *Server) loadVolume(accountID string, v ScenarioVolume, baseDir string, now time.Time) error {
	if e := checkVolumeID(v.ID); e != nil {
		return e
	}
	if s.st.volumes[v.ID] != nil {
		return fmt.Errorf("volume defined twice")
	}
	if v.Region == "" {
		return fmt.Errorf("region is required")
	}
	size := v.SizeGiB
	if size <= 0 {
		size = 1
	}
	var d *disk
	var err error
	switch {
	case v.Image != "" && v.Synthetic != nil:
		return fmt.Errorf("give image or synthetic, not both")
	case v.Image != "":
		path := v.Image
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		d, err = openImageDisk(path, size)
	case v.Synthetic != nil:
		d, err = syntheticDisk(size, v.Synthetic.Blocks, v.Synthetic.Seed)
	default:
		d = emptyDisk(size)
	}
	if err != nil {
		return err
	}
	d.origin = v.ID
	vol := &volume{
		seq: s.st.nextSeq(), id: v.ID, ownerID: accountID, region: v.Region,
		az: orDefault(v.AvailabilityZone, v.Region+"a"), volumeType: orDefault(v.VolumeType, "gp3"),
		disk: d, created: now, tags: tags(v.Tags),
	}
	if vol.tags == nil {
		vol.tags = tags{}
	}
	if v.Encrypted || v.KMSKeyID != "" {
		key, e := s.ebsKey(accountID, v.Region, v.KMSKeyID, now)
		if e != nil {
			d.close()
			return e
		}
		// "Amazon EBS does not support asymmetric KMS keys."
		// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
		if !key.symmetricEncryption() {
			d.close()
			return fmt.Errorf("kmsKeyId %s is not a symmetric encryption key; EBS supports only those", v.KMSKeyID)
		}
		vol.encrypted, vol.kmsKeyARN = true, key.arn
	}
	s.st.volumes[v.ID] = vol
	s.scenarioDisks[v.ID] = d
	return nil
}

func (s *Server) loadInstance(accountID string, in ScenarioInstance, now time.Time) error {
	if e := checkInstanceID(in.ID); e != nil {
		return e
	}
	if s.st.instances[in.ID] != nil {
		return fmt.Errorf("instance defined twice")
	}
	if in.Region == "" {
		return fmt.Errorf("region is required")
	}
	inst := &instance{
		seq: s.st.nextSeq(), id: in.ID, ownerID: accountID, region: in.Region,
		az:              orDefault(in.AvailabilityZone, in.Region+"a"),
		instanceType:    orDefault(in.InstanceType, "t3.micro"),
		imageID:         orDefault(in.ImageID, "ami-0123456789abcdef0"),
		state:           orDefault(in.State, "running"),
		launched:        now,
		rootDevice:      in.RootDeviceName,
		privateIP:       orDefault(in.PrivateIPAddress, "10.0.0.10"),
		vpcID:           in.VpcID,
		subnetID:        in.SubnetID,
		instanceProfile: in.IAMInstanceProfile,
		securityGroups:  in.SecurityGroups,
		userData:        []byte(in.UserData),
		tags:            tags(in.Tags),
		reservationID:   "r-" + s.ids.nextHex(kindReservation, 17),
	}
	if inst.tags == nil {
		inst.tags = tags{}
	}
	for i, a := range in.Volumes {
		vol := s.st.volumes[a.VolumeID]
		if vol == nil || vol.ownerID != accountID || vol.region != in.Region {
			return fmt.Errorf("volume %s is not in account %s region %s", a.VolumeID, accountID, in.Region)
		}
		if vol.attachment != nil {
			return fmt.Errorf("volume %s attached twice", a.VolumeID)
		}
		if i == 0 && inst.rootDevice == "" {
			inst.rootDevice = a.Device
		}
		vol.az = inst.az
		vol.attachment = &attachment{instanceID: in.ID, device: a.Device, deleteOnTermination: a.DeleteOnTermination, attached: now}
		inst.devices = append(inst.devices, a.VolumeID)
	}
	s.st.instances[in.ID] = inst
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// userDataBase64 is user data as DescribeInstanceAttribute returns it.
func (in *instance) userDataBase64() string {
	return base64.StdEncoding.EncodeToString(in.userData)
}
