// Package version reports the versions edgek was built with. The values are set at build
// time with -ldflags -X (see the Makefile).
package version

import (
	"fmt"
	"runtime"
	"time"

	k8sversion "k8s.io/component-base/version"
)

// Version is edgek's own version.
var Version = "v0.0.0-dev"

// GitCommit is the commit edgek was built from.
var GitCommit = "unknown"

// BuildDate is when edgek was built, RFC 3339 in UTC (e.g. 2026-12-03T09:00:00Z). Empty in
// builds that do not stamp it (go test, go run).
var BuildDate = ""

// sourceDate is a date this source tree cannot have been built before: the floor of
// BuildTime when BuildDate is not stamped. Raise it now and then.
var sourceDate = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// BuildTime is when edgek was built (BuildDate), or, in an unstamped or badly stamped build,
// a date the source cannot be older than. A clock earlier than this is certainly wrong.
func BuildTime() time.Time {
	t, err := time.Parse(time.RFC3339, BuildDate)
	if err != nil || t.Before(sourceDate) {
		return sourceDate
	}
	return t.UTC()
}

// String is the one-line version report of `edgek --version`.
func String() string {
	return fmt.Sprintf("edgek version %s (%s)\nkubernetes %s\ngo %s %s/%s",
		Version, GitCommit, k8sversion.Get().GitVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
