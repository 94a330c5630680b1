package awssim

import (
	"encoding/xml"
	"net/http"
	"time"
)

const (
	ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// ec2Time is the timestamp format of EC2 responses.
func ec2Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// writeXML writes body as the root element name in namespace ns.
func writeXML(w http.ResponseWriter, status int, name, ns string, body any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	start := xml.StartElement{Name: xml.Name{Local: name}}
	if ns != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: ns}}
	}
	enc := xml.NewEncoder(w)
	enc.EncodeElement(body, start)
	enc.Flush()
}

// ec2Meta starts every EC2 response body.
type ec2Meta struct {
	RequestID string `xml:"requestId"`
}

func (m *ec2Meta) setRequestID(id string) { m.RequestID = id }

type ec2Body interface{ setRequestID(string) }

// ec2Return is the body of actions that answer only <return>true</return>.
type ec2Return struct {
	ec2Meta
	Return bool `xml:"return"`
}

// The EC2 error document.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#api-error-response
type ec2ErrorBody struct {
	Errors    []ec2ErrorItem `xml:"Errors>Error"`
	RequestID string         `xml:"RequestID"`
}

type ec2ErrorItem struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func xmlTags(t tags) []xmlTag {
	var out []xmlTag
	for _, k := range t.sortedKeys() {
		out = append(out, xmlTag{Key: k, Value: t[k]})
	}
	return out
}
