// Package version reports the versions edgek was built with. The values are set at build
// time with -ldflags -X (see the Makefile).
package version

import (
	"fmt"
	"runtime"

	k8sversion "k8s.io/component-base/version"
)

// Version is edgek's own version.
var Version = "v0.0.0-dev"

// GitCommit is the commit edgek was built from.
var GitCommit = "unknown"

// String is the one-line version report of `edgek --version`.
func String() string {
	return fmt.Sprintf("edgek version %s (%s)\nkubernetes %s\ngo %s %s/%s",
		Version, GitCommit, k8sversion.Get().GitVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
