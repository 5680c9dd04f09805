package deploy

import (
	"testing"

	"github.com/edgek-io/edgek/manifests"
)

// TestBundledManifestsDecode: edgek's own manifests decode into objects the controller can
// apply.
func TestBundledManifestsDecode(t *testing.T) {
	out, err := manifests.Render(manifests.Vars{
		ClusterDNS: "10.43.0.10", ClusterDomain: "cluster.local", ClusterCIDR: "10.42.0.0/16",
		ServiceCIDR: "10.43.0.0/16", CoreDNSImage: "example.test/coredns:1", DashboardImage: "example.test/dashboard:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, content := range out {
		if !isManifestName(file) {
			t.Errorf("%s: not a manifest file name", file)
		}
		objs, err := decodeManifest(content)
		if err != nil {
			t.Errorf("%s: %v", file, err)
		} else if len(objs) == 0 {
			t.Errorf("%s: no object", file)
		}
	}
}
