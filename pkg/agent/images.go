package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/edgek-io/edgek/pkg/agent/images"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/oci"
)

// imageComponent imports the images edgek carries (the pod sandbox image) and the air-gap
// archives in <data-dir>/agent/images, then keeps watching that directory.
type imageComponent struct {
	agent  *config.Agent
	binDir string
	log    *slog.Logger
	imp    *images.Importer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (c *imageComponent) Name() string { return "images" }

func (c *imageComponent) Start(ctx context.Context, _ func(error)) error {
	c.imp = images.New(c.agent.ContainerdSocket(), c.agent.ImagesDir(), c.agent.ImagesStateFile(), c.log)
	pause, err := pauseArchive(c.agent.PauseImage, filepath.Join(c.binDir, "pause"))
	if err != nil {
		return err
	}
	if _, err := c.imp.ImportArchive(ctx, bytes.NewReader(pause), "built-in pause image"); err != nil {
		return fmt.Errorf("import the pause image: %w", err)
	}
	if err := c.imp.ImportDir(ctx); err != nil {
		return fmt.Errorf("import images from %s: %w", c.agent.ImagesDir(), err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.imp.Watch(wctx) }()
	return nil
}

func (c *imageComponent) Ready(context.Context) error { return nil }

func (c *imageComponent) Stop() {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
	if c.imp != nil {
		c.imp.Close()
	}
}

// pauseArchive builds the pod sandbox image from the pause binary edgek carries.
func pauseArchive(ref, pauseBin string) ([]byte, error) {
	bin, err := os.ReadFile(pauseBin)
	if err != nil {
		return nil, fmt.Errorf("read pause binary: %w", err)
	}
	var buf bytes.Buffer
	err = oci.WriteArchive(&buf, oci.Image{
		Ref:        ref,
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
		Files:      []oci.File{{Path: "/pause", Mode: 0o755, Data: bin}},
	})
	if err != nil {
		return nil, fmt.Errorf("build pause image: %w", err)
	}
	return buf.Bytes(), nil
}
