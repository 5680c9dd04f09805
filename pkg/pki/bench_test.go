package pki

import (
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkEnsureUnchanged is what the hourly certificate check costs a server when nothing
// is due (pkg/certwatch): read and verify every CA and leaf, write nothing.
func BenchmarkEnsureUnchanged(b *testing.B) {
	opts := Options{
		Dir:           filepath.Join(b.TempDir(), "server", "tls"),
		SANs:          []string{"edge-1", "10.0.0.5", "127.0.0.1", "10.43.0.1"},
		ClusterDomain: "cluster.local",
		Now:           func() time.Time { return testNow },
		BuildTime:     testBuild,
	}
	if _, err := Ensure(opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Ensure(opts); err != nil {
			b.Fatal(err)
		}
	}
}
