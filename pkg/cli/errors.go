package cli

import "strings"

// oneLine joins a (possibly errors.Join-ed) error onto one line, so that every failure is
// one clear line on stderr.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
