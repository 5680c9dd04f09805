package containerd

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

const capSysResource = 24

// LacksCapSysResource reports whether this process may not lower oom_score_adj, reading
// CapEff from a /proc/<pid>/status file.
func LacksCapSysResource(statusFile string) bool {
	f, err := os.Open(statusFile)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<capSysResource) == 0
		}
	}
	return false
}
