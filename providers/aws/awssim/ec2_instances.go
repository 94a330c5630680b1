package awssim

import (
	"sort"
	"strings"
)

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

type xmlInstance struct {
	InstanceID         string              `xml:"instanceId"`
	ImageID            string              `xml:"imageId"`
	InstanceState      xmlInstanceState    `xml:"instanceState"`
	PrivateIPAddress   string              `xml:"privateIpAddress,omitempty"`
	InstanceType       string              `xml:"instanceType"`
	LaunchTime         string              `xml:"launchTime"`
	Placement          xmlPlacement        `xml:"placement"`
	SubnetID           string              `xml:"subnetId,omitempty"`
	VpcID              string              `xml:"vpcId,omitempty"`
	Architecture       string              `xml:"architecture"`
	RootDeviceType     string              `xml:"rootDeviceType"`
	RootDeviceName     string              `xml:"rootDeviceName,omitempty"`
	BlockDeviceMapping []xmlBlockDevice    `xml:"blockDeviceMapping>item"`
	VirtualizationType string              `xml:"virtualizationType"`
	IAMInstanceProfile *xmlInstanceProfile `xml:"iamInstanceProfile,omitempty"`
	GroupSet           []xmlGroup          `xml:"groupSet>item"`
	TagSet             []xmlTag            `xml:"tagSet>item"`
}

type xmlInstanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type xmlPlacement struct {
	AvailabilityZone string `xml:"availabilityZone"`
	Tenancy          string `xml:"tenancy"`
}

type xmlBlockDevice struct {
	DeviceName string            `xml:"deviceName"`
	EBS        xmlEBSBlockDevice `xml:"ebs"`
}

type xmlEBSBlockDevice struct {
	VolumeID            string `xml:"volumeId"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type xmlInstanceProfile struct {
	ARN string `xml:"arn"`
	ID  string `xml:"id"`
}

type xmlGroup struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

// Instance state codes.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceState.html
var instanceStateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

// instanceVolumes returns the instance's attached volumes in device order.
// Callers hold s.mu.
func (s *Server) instanceVolumes(in *instance) []*volume {
	var out []*volume
	for _, id := range in.devices {
		if v := s.st.volumes[id]; v != nil && v.attachment != nil && v.attachment.instanceID == in.id {
			out = append(out, v)
		}
	}
	return out
}

func (s *Server) xmlInstance(in *instance) xmlInstance {
	x := xmlInstance{
		InstanceID: in.id, ImageID: in.imageID,
		InstanceState:    xmlInstanceState{Code: instanceStateCodes[in.state], Name: in.state},
		PrivateIPAddress: in.privateIP, InstanceType: in.instanceType, LaunchTime: ec2Time(in.launched),
		Placement: xmlPlacement{AvailabilityZone: in.az, Tenancy: "default"},
		SubnetID:  in.subnetID, VpcID: in.vpcID, Architecture: "x86_64",
		RootDeviceType: "ebs", RootDeviceName: in.rootDevice, VirtualizationType: "hvm",
		TagSet: xmlTags(in.tags),
	}
	for _, v := range s.instanceVolumes(in) {
		x.BlockDeviceMapping = append(x.BlockDeviceMapping, xmlBlockDevice{
			DeviceName: v.attachment.device,
			EBS: xmlEBSBlockDevice{VolumeID: v.id, Status: "attached",
				AttachTime: ec2Time(v.attachment.attached), DeleteOnTermination: v.attachment.deleteOnTermination},
		})
	}
	if in.instanceProfile != "" {
		x.IAMInstanceProfile = &xmlInstanceProfile{
			ARN: "arn:aws:iam::" + in.ownerID + ":instance-profile/" + in.instanceProfile,
			ID:  "AIPA" + strings.ToUpper(s.sign("profile|" + in.ownerID + "|" + in.instanceProfile))[:17],
		}
	}
	for _, g := range in.securityGroups {
		x.GroupSet = append(x.GroupSet, xmlGroup{GroupID: g.ID, GroupName: g.Name})
	}
	return x
}

func (s *Server) instanceFilterFields(in *instance) filterFields {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-id":
			return []string{in.id}, true
		case "instance-state-name":
			return []string{in.state}, true
		case "instance-type":
			return []string{in.instanceType}, true
		case "availability-zone":
			return []string{in.az}, true
		case "image-id":
			return []string{in.imageID}, true
		case "owner-id":
			return []string{in.ownerID}, true
		case "reservation-id":
			return []string{in.reservationID}, true
		case "vpc-id":
			return []string{in.vpcID}, true
		case "subnet-id":
			return []string{in.subnetID}, true
		case "private-ip-address":
			return []string{in.privateIP}, true
		case "iam-instance-profile.arn":
			if in.instanceProfile == "" {
				return nil, true
			}
			return []string{"arn:aws:iam::" + in.ownerID + ":instance-profile/" + in.instanceProfile}, true
		case "block-device-mapping.volume-id", "block-device-mapping.device-name":
			var out []string
			for _, v := range s.instanceVolumes(in) {
				if name == "block-device-mapping.volume-id" {
					out = append(out, v.id)
				} else {
					out = append(out, v.attachment.device)
				}
			}
			return out, true
		case "instance.group-id", "instance.group-name":
			var out []string
			for _, g := range in.securityGroups {
				if name == "instance.group-id" {
					out = append(out, g.ID)
				} else {
					out = append(out, g.Name)
				}
			}
			return out, true
		}
		return tagFields(in.tags, name)
	}
}

// findInstance returns the caller's instance in the request's region.
// Callers hold s.mu.
func (s *Server) findInstance(r *ec2Request, id string) (*instance, *apiError) {
	if e := checkInstanceID(id); e != nil {
		return nil, e
	}
	in := s.st.instances[id]
	if in == nil || in.ownerID != r.accountID() || in.region != r.region {
		return nil, badRequest("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	}
	return in, nil
}

type describeInstancesResponse struct {
	ec2Meta
	Reservations []xmlReservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
func (s *Server) describeInstances(r *ec2Request) (ec2Body, *apiError) {
	ids := r.q.list("InstanceId")
	page, e := ec2Page(r.q, pagingDescribeInstances, len(ids) > 0)
	if e != nil {
		return nil, e
	}
	filters := r.q.filters()
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*instance
	if len(ids) > 0 {
		for _, id := range ids {
			in, e := s.findInstance(r, id)
			if e != nil {
				return nil, e
			}
			found = append(found, in)
		}
	} else {
		for _, in := range s.st.instances {
			if in.ownerID == r.accountID() && in.region == r.region {
				found = append(found, in)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	}
	var matched []*instance
	for _, in := range found {
		ok, e := matchFilters(filters, s.instanceFilterFields(in))
		if e != nil {
			return nil, e
		}
		if ok {
			matched = append(matched, in)
		}
	}
	pageItems, next, e := paginate(s, pager{scope: r.accountID() + "|DescribeInstances|" + r.region, now: r.now, badToken: errInvalidPaginationToken}, matched, page)
	if e != nil {
		return nil, e
	}
	out := &describeInstancesResponse{NextToken: next}
	for _, in := range pageItems {
		out.Reservations = append(out.Reservations, xmlReservation{
			ReservationID: in.reservationID, OwnerID: in.ownerID, Instances: []xmlInstance{s.xmlInstance(in)},
		})
	}
	return out, nil
}

type xmlAttributeValue struct {
	Value string `xml:"value,omitempty"`
}

type xmlBoolAttribute struct {
	Value bool `xml:"value"`
}

type describeInstanceAttributeResponse struct {
	ec2Meta
	InstanceID                        string             `xml:"instanceId"`
	UserData                          *xmlAttributeValue `xml:"userData,omitempty"`
	InstanceType                      *xmlAttributeValue `xml:"instanceType,omitempty"`
	RootDeviceName                    *xmlAttributeValue `xml:"rootDeviceName,omitempty"`
	InstanceInitiatedShutdownBehavior *xmlAttributeValue `xml:"instanceInitiatedShutdownBehavior,omitempty"`
	DisableAPITermination             *xmlBoolAttribute  `xml:"disableApiTermination,omitempty"`
	BlockDeviceMapping                []xmlBlockDevice   `xml:"blockDeviceMapping>item,omitempty"`
	GroupSet                          []xmlGroup         `xml:"groupSet>item,omitempty"`
}

// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html
func (s *Server) describeInstanceAttribute(r *ec2Request) (ec2Body, *apiError) {
	id, attr := r.q.get("InstanceId"), r.q.get("Attribute")
	if id == "" {
		return nil, errMissingParameter("InstanceId")
	}
	if attr == "" {
		return nil, errMissingParameter("Attribute")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, e := s.findInstance(r, id)
	if e != nil {
		return nil, e
	}
	out := &describeInstanceAttributeResponse{InstanceID: in.id}
	switch attr {
	case "userData":
		out.UserData = &xmlAttributeValue{}
		if len(in.userData) > 0 {
			out.UserData.Value = in.userDataBase64()
		}
	case "instanceType":
		out.InstanceType = &xmlAttributeValue{Value: in.instanceType}
	case "rootDeviceName":
		out.RootDeviceName = &xmlAttributeValue{Value: in.rootDevice}
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = &xmlAttributeValue{Value: "stop"}
	case "disableApiTermination":
		out.DisableAPITermination = &xmlBoolAttribute{}
	case "blockDeviceMapping":
		out.BlockDeviceMapping = s.xmlInstance(in).BlockDeviceMapping
	case "groupSet":
		out.GroupSet = s.xmlInstance(in).GroupSet
	default:
		return nil, errInvalidParameterValue("Attribute", attr)
	}
	return out, nil
}
