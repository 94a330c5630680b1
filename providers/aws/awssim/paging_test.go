package awssim

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/acquire-forensics/acquire/internal/testenv"
)

// manyVolumes is the fixture with n more empty volumes in the workload account's region.
func manyVolumes(t *testing.T, n int) *Scenario {
	sc := fixture(t)
	for i := range n {
		sc.Accounts[0].Volumes = append(sc.Accounts[0].Volumes, ScenarioVolume{ID: fmt.Sprintf("vol-%017x", 0xc000+i), Region: region, SizeGiB: 1})
	}
	return sc
}

// TestDescribePagingRules checks each Describe action's documented MaxResults rule: DescribeVolumes
// answers a value above 500 with 500 items, DescribeSnapshots one above 1000 with 1000, and
// DescribeInstances and DescribeLockedSnapshots refuse what is outside 5 to 1000; every action
// refuses a value under 5.
func TestDescribePagingRules(t *testing.T) {
	const extra = 600
	ts := startServer(t, manyVolumes(t, extra), nil)
	client := ts.ec2(t, responder, region)
	all := len(must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})).Volumes)
	if all <= extra {
		t.Fatalf("%d volumes in all", all)
	}
	page := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{MaxResults: aws.Int32(1000)}))
	if len(page.Volumes) != 500 || page.NextToken == nil {
		t.Fatalf("MaxResults 1000: %d volumes, next token %v; want 500 and a token", len(page.Volumes), page.NextToken)
	}
	rest := must[*ec2.DescribeVolumesOutput](t)(client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{MaxResults: aws.Int32(1000), NextToken: page.NextToken}))
	if len(page.Volumes)+len(rest.Volumes) != all || rest.NextToken != nil {
		t.Fatalf("second page: %d volumes, token %v; %d in all", len(rest.Volumes), rest.NextToken, all)
	}
	if _, err := client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5000), OwnerIds: []string{"self"}}); err != nil {
		t.Errorf("DescribeSnapshots MaxResults 5000: %v (AWS answers with at most 1000)", err)
	}
	for name, call := range map[string]func(int32) error{
		"DescribeVolumes": func(n int32) error {
			_, err := client.DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{MaxResults: aws.Int32(n)})
			return err
		},
		"DescribeSnapshots": func(n int32) error {
			_, err := client.DescribeSnapshots(t.Context(), &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(n)})
			return err
		},
		"DescribeInstances": func(n int32) error {
			_, err := client.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(n)})
			return err
		},
		"DescribeLockedSnapshots": func(n int32) error {
			_, err := client.DescribeLockedSnapshots(t.Context(), &ec2.DescribeLockedSnapshotsInput{MaxResults: aws.Int32(n)})
			return err
		},
	} {
		wantCode(t, call(4), "InvalidParameterValue")
		if err := call(5); err != nil {
			t.Errorf("%s MaxResults 5: %v", name, err)
		}
		if name == "DescribeInstances" || name == "DescribeLockedSnapshots" {
			wantCode(t, call(1001), "InvalidParameterValue")
		}
	}
}

// awsCLI is Debian's AWS CLI (version 2, /usr/bin/aws); in CI whichever is on PATH.
func awsCLI(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	return testenv.RequireTool(t, "aws")
}

// TestAWSCLIPaging drives the simulator with the stock AWS CLI, whose default paging asks
// describe-volumes and describe-snapshots for 1000 items a page.
func TestAWSCLIPaging(t *testing.T) {
	cli := awsCLI(t)
	ts := startServer(t, manyVolumes(t, 600), nil)
	want := len(must[*ec2.DescribeVolumesOutput](t)(ts.ec2(t, responder, region).DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{})).Volumes)
	home := t.TempDir()
	awsRun := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", ts.url, "--region", region, "--output", "json"}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + responder.id, "AWS_SECRET_ACCESS_KEY=" + responder.secret,
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var result map[string]any
		if err := json.Unmarshal(out, &result); err != nil {
			t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
		}
		return result
	}
	if got := len(awsRun("ec2", "describe-volumes")["Volumes"].([]any)); got != want {
		t.Errorf("aws ec2 describe-volumes: %d volumes, want %d", got, want)
	}
	awsRun("ec2", "describe-snapshots", "--owner-ids", "self")
	if got := len(awsRun("ec2", "describe-instances")["Reservations"].([]any)); got == 0 {
		t.Error("aws ec2 describe-instances: no reservations")
	}
}
