package pki

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// Boards without a real-time clock boot at 1970, at systemd's build time or at the last
// time fake-hwclock saved, and get the right time later from NTP (or never, when
// air-gapped). Certificates must survive both directions of that jump:
//
//   - every certificate edgek signs has NotBefore = the Unix epoch, so a boot with a clock
//     in the past never finds it "not yet valid" (the CA and the leaves alike);
//   - NotAfter is counted from the clock's floor when the clock is behind it: the floor is
//     the later of the binary's build time and the newest time edgek has seen (kept in
//     lastSeenFile), so certificates made at 1970 are still years from expiry when NTP
//     brings the real date;
//   - renewal decisions are made at max(now, floor), so a clock in the past neither
//     renews good certificates nor keeps renewing them at every start.

// lastSeenFile holds the newest wall-clock time edgek has seen, RFC 3339.
const lastSeenFile = "last-seen-time"

// lastSeenEvery is how stale lastSeenFile may get before it is rewritten: it is written
// rarely, so that an SD card is not worn by it.
const lastSeenEvery = 24 * time.Hour

// notBefore is the NotBefore of every certificate edgek signs.
var notBefore = time.Unix(0, 0).UTC()

// clock is the time certificates are issued and checked at.
type clock struct {
	now   time.Time // the wall clock
	floor time.Time // a time the wall clock cannot really be before
}

// at is the time validity is counted from and checked at: now, or the floor when the
// clock is behind it.
func (c clock) at() time.Time {
	if c.now.Before(c.floor) {
		return c.floor
	}
	return c.now
}

// behind reports whether the wall clock is earlier than the floor (certainly wrong).
func (c clock) behind() bool { return c.now.Before(c.floor) }

// loadClock returns the clock of a start: now, and the floor from buildTime and the
// last-seen time kept in dir. It updates that file when now is plausible and the file is
// older than lastSeenEvery, and warns when the clock is behind the floor.
func loadClock(dir string, now, buildTime time.Time, log *slog.Logger) (clock, error) {
	path := filepath.Join(dir, lastSeenFile)
	c := clock{now: now, floor: buildTime}
	seen, err := readLastSeen(path)
	if err != nil {
		log.Warn("ignoring the last-seen time", "path", path, "error", err.Error())
	}
	if seen.After(c.floor) {
		c.floor = seen
	}
	if c.behind() {
		log.Warn("the system clock is behind the time edgek knows has passed: certificates are issued as if it were that time; enable NTP (timedatectl set-ntp true) or set the clock (date -s), and if the clock is right delete the last-seen file",
			"clock", now.UTC().Format(time.RFC3339), "floor", c.floor.Format(time.RFC3339),
			"build-time", buildTime.Format(time.RFC3339), "last-seen-file", path)
		return c, nil
	}
	if now.Sub(seen) >= lastSeenEvery {
		data := []byte(now.UTC().Truncate(time.Second).Format(time.RFC3339) + "\n")
		if err := fsutil.WriteFileAtomic(path, data, certMode); err != nil {
			return c, fmt.Errorf("record the current time: %w", err)
		}
	}
	return c, nil
}

// readLastSeen returns the time in path; zero when there is none.
func readLastSeen(path string) (time.Time, error) {
	data, err := readOptional(path)
	if err != nil || data == nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, string(bytes.TrimSpace(data)))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", path, err)
	}
	return t.UTC(), nil
}

// discardLog is the logger of callers that pass none.
var discardLog = slog.New(slog.DiscardHandler)

// KeepTimeEvery is how often KeepTime looks at the clock.
const KeepTimeEvery = time.Hour

// KeepTime keeps the last-seen time in each dir current while ctx lasts: it checks every
// KeepTimeEvery and rewrites a file older than a day (never one newer than the clock). Without
// it the floor would be the last start: a board that ran for months and restarts without a
// clock would judge its certificates at that old time, and keep one that expired meanwhile.
// It returns ctx's error.
func KeepTime(ctx context.Context, log *slog.Logger, dirs ...string) error {
	return keepTime(ctx, time.NewTicker(KeepTimeEvery).C, time.Now, log, dirs...)
}

func keepTime(ctx context.Context, tick <-chan time.Time, now func() time.Time, log *slog.Logger, dirs ...string) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
		}
		for _, dir := range dirs {
			// A zero build time: the floor is the file alone; a clock behind it writes nothing.
			if _, err := loadClock(dir, now(), time.Time{}, discardLog); err != nil {
				log.Warn("could not record the current time", "dir", dir, "error", err.Error())
			}
		}
	}
}
