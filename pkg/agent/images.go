package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgek-io/edgek/pkg/agent/images"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/oci"
)

// imageComponent imports the images edgek carries (the pod sandbox image) and the air-gap
// archives in <data-dir>/agent/images, then keeps watching that directory.
type imageComponent struct {
	agent  *config.Agent
	binDir string
	log    *slog.Logger
	imp    *images.Importer
	watch  *daemon.Task // watches the images directory until Stop
}

var _ daemon.Component = (*imageComponent)(nil)

func (c *imageComponent) Name() string { return "images" }

// Start imports the built-in images and the archives in the images directory, then watches
// the directory until Stop. Importer.Watch only returns when its context ends, so it
// returning before Stop is a bug, and daemon.Go reports it through fail.
func (c *imageComponent) Start(ctx context.Context, fail func(error)) error {
	c.imp = images.New(c.agent.ContainerdSocket(), c.agent.ImagesDir(), c.agent.ImagesStateFile(), c.log)
	if err := c.importAll(ctx); err != nil {
		c.imp.Close() // Stop is not called after a failed Start
		return err
	}
	c.watch = daemon.Go(ctx, fail, func(ctx context.Context) error { c.imp.Watch(ctx); return nil })
	return nil
}

// importAll imports the built-in images, then the archives in the images directory.
func (c *imageComponent) importAll(ctx context.Context) error {
	for _, img := range builtinImages(c.agent) {
		key, err := img.key(c.binDir)
		if errors.Is(err, os.ErrNotExist) && !img.required {
			// Not carried by this build: its addon needs the image from elsewhere.
			c.log.Warn("this edgek build carries no binary for a built-in image; import the image or disable its addon",
				"image", img.ref, "binary", img.bin)
			continue
		}
		if err != nil {
			return err
		}
		start := time.Now()
		imported, err := c.imp.ImportBuiltin(ctx, img.ref, key, func() ([]byte, error) { return img.archive(c.binDir) })
		if err != nil {
			return fmt.Errorf("import the built-in image %s: %w", img.ref, err)
		}
		if imported {
			c.log.Info("imported built-in image", "image", img.ref, "took", time.Since(start).Round(time.Millisecond))
		} else {
			c.log.Debug("built-in image up to date", "image", img.ref, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if err := c.imp.ImportDir(ctx); err != nil {
		return fmt.Errorf("import images from %s: %w", c.agent.ImagesDir(), err)
	}
	return nil
}

// Ready implements daemon.Component: Start returns once the images are imported.
func (c *imageComponent) Ready(context.Context) error { return nil }

// Stop ends the directory watch, waits for it and closes the connection to containerd. It
// is safe before Start and twice (Importer.Close is).
func (c *imageComponent) Stop() {
	c.watch.Stop()
	if c.imp != nil {
		c.imp.Close()
	}
}

// builtinImage is an image edgek builds at start from a binary it carries: one layer holding
// the binary, so that the image needs no registry and costs no disk beyond the binary.
type builtinImage struct {
	ref, bin, user string
	required       bool
}

// builtinImages are the pod sandbox image and the images of the bundled addons.
func builtinImages(a *config.Agent) []builtinImage {
	return []builtinImage{
		{ref: a.PauseImage, bin: "pause", user: "65535:65535", required: true},
		{ref: config.CoreDNSImage, bin: "coredns", user: "65532:65532"},
		{ref: config.DashboardImage, bin: "dashboard", user: "65532:65532"},
	}
}

// builtinFormat is part of every built-in image's key: bump it when the way the images are
// built changes, so that nodes build them again.
const builtinFormat = "edgek-builtin-image/1"

// key identifies what the image is built from: the binary's content and the image spec. It
// reads the binary once to hash it (a fraction of the cost of building the image). A missing
// binary is an error wrapping os.ErrNotExist.
func (b builtinImage) key(binDir string) (string, error) {
	f, err := os.Open(filepath.Join(binDir, b.bin))
	if err != nil {
		return "", fmt.Errorf("read %s binary: %w", b.bin, err)
	}
	defer f.Close()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", builtinFormat, b.ref, b.bin, b.user)
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s binary: %w", b.bin, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// archive returns the image as an OCI archive.
func (b builtinImage) archive(binDir string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(binDir, b.bin))
	if err != nil {
		return nil, fmt.Errorf("read %s binary: %w", b.bin, err)
	}
	var buf bytes.Buffer
	err = oci.WriteArchive(&buf, oci.Image{
		Ref:        b.ref,
		Entrypoint: []string{"/" + b.bin},
		User:       b.user,
		Files:      []oci.File{{Path: "/" + b.bin, Mode: 0o755, Data: data}},
	})
	if err != nil {
		return nil, fmt.Errorf("build image %s: %w", b.ref, err)
	}
	return buf.Bytes(), nil
}
