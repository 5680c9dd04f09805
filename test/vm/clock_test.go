//go:build vm

package vm

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClockFrom1970 is a board without RTC: the guest's clock starts in the 1970s, edgek is
// installed and made Ready then, and the clock jumps to the real time (NTP arrives). The node
// must stay usable: Ready, kubectl working, new pods starting, no certificate expired.
func TestClockFrom1970(t *testing.T) {
	if testing.Short() {
		t.Skip("not in -short")
	}
	f := newFixture(t)
	rel := f.rel
	v := startVM(t, vmOpts{name: "clock", httpsAddr: rel.addr, rtc: "1970-01-01T00:00:00"})
	s := newSteps(t)

	s.do("boot at 1970", func() {
		v.waitSSH(t, 10*time.Minute, "")
		// systemd moves a clock older than its build time up to that time at boot; a board
		// without RTC may well be older still: set it back.
		out := v.must(t, time.Minute, "date -u +%s; date -s @100000000 >/dev/null; date -u")
		t.Logf("guest clock at boot: %s (systemd's floor), set to %s", firstLine(out), lastLine(out))
		f.prepare(t, v)
	})
	s.do("install in the 1970s", func() {
		install(t, v, rel, "")
		waitNodes(t, v, 1, 20*time.Minute)
		t.Logf("certificates in the 1970s:\n%s", certCheck(v))
	})
	s.do("clock jumps to now", func() {
		now := time.Now().Unix()
		v.must(t, time.Minute, fmt.Sprintf("date -s @%d >/dev/null", now))
		t.Logf("guest clock set to %s", strconv.FormatInt(now, 10))
		waitNodes(t, v, 1, 10*time.Minute)
		out, err := v.run(2*time.Minute, "edgek certificate check")
		t.Logf("edgek certificate check after the jump:\n%s", out)
		if err != nil {
			t.Errorf("certificate check after the clock jump: %v", err)
		}
	})
	s.do("a new pod starts", func() {
		v.must(t, 2*time.Minute, "cat <<'EOF' | "+kubectl+" apply -f -\n"+webManifest+"EOF")
		eventually(t, 10*time.Minute, "web pod Ready after the clock jump", func() error { _, err := webPod(v); return err })
		checkServiceByName(t, v, 5*time.Minute)
		waitDefaultPods(t, v, 10*time.Minute)
	})
}

// certCheck returns `edgek certificate check`'s report, whatever its exit code.
func certCheck(v *vm) string {
	out, err := v.run(2*time.Minute, "edgek certificate check")
	if err != nil {
		return strings.TrimSpace(out) + "\n(exit: " + err.Error() + ")"
	}
	return strings.TrimSpace(out)
}
