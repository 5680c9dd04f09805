package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// containerd's log is capped: containerd writes it through an O_APPEND descriptor, so when it
// grows past logMaxBytes it is copied to <log>.1 (replacing the one before) and truncated
// under the running containerd, which goes on writing at its new end (logrotate's
// copytruncate; lines written between the copy and the truncation are lost). At most twice
// logMaxBytes on disk, one stat every logCheckEvery.
const (
	logMaxBytes   = 10 << 20
	logCheckEvery = 10 * time.Minute
)

// rotateLog rotates path if it is larger than max, and reports whether it did.
func rotateLog(path string, max int64) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() <= max {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	in, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	defer in.Close()
	out, err := os.OpenFile(path+".1", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	if err := os.Truncate(path, 0); err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	return true, nil
}

// rotateLogs checks containerd's log now and every logCheckEvery until ctx ends.
func (c *Containerd) rotateLogs(ctx context.Context) {
	t := time.NewTicker(logCheckEvery)
	defer t.Stop()
	for {
		if rotated, err := rotateLog(c.logFile(), logMaxBytes); err != nil {
			c.log.Warn("containerd log not rotated", "error", err.Error())
		} else if rotated {
			c.log.Info("rotated containerd's log", "log", c.logFile(), "previous", c.logFile()+".1")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
