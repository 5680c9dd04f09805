package images

import (
	"bytes"
	"context"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
)

// BuiltFromLabel is set on the images edgek builds from binaries it carries. Its value is the
// caller's key for what the image was built from (a digest of the binary and the image spec):
// an image that holds the same key is not built and imported again.
const BuiltFromLabel = "edgek.io/built-from"

// ImportBuiltin makes sure containerd holds the image ref built from key: if the image is
// there with that key and unpacked, nothing is done; otherwise build is called for the
// archive, which is imported (pinned and unpacked like every other) with the key as a label.
// It reports whether it imported. Building and importing an image costs seconds of CPU on a
// small board (compressing and hashing its layer twice); a restart or an upgrade that carries
// the same binary skips both.
func (i *Importer) ImportBuiltin(ctx context.Context, ref, key string, build func() ([]byte, error)) (bool, error) {
	c, err := i.connect()
	if err != nil {
		return false, err
	}
	return importBuiltin(ctx, c, Snapshotter, ref, key, build)
}

func importBuiltin(ctx context.Context, c *containerd.Client, snapshotter, ref, key string, build func() ([]byte, error)) (bool, error) {
	current, err := builtinCurrent(ctx, c, snapshotter, ref, key)
	if err != nil {
		return false, err
	}
	if current {
		return false, nil
	}
	archive, err := build()
	if err != nil {
		return false, err
	}
	names, err := importAndUnpack(ctx, c, bytes.NewReader(archive), snapshotter, map[string]string{BuiltFromLabel: key})
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n == ref {
			return true, nil
		}
	}
	return false, fmt.Errorf("the archive built for %s holds %q instead", ref, names)
}

// builtinCurrent reports whether containerd holds ref built from key, unpacked.
func builtinCurrent(ctx context.Context, c *containerd.Client, snapshotter, ref, key string) (bool, error) {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	rec, err := c.ImageService().Get(ctx, ref)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up image %s: %w", ref, err)
	}
	if rec.Labels[BuiltFromLabel] != key {
		return false, nil
	}
	unpacked, err := containerd.NewImageWithPlatform(c, rec, platforms.Default()).IsUnpacked(ctx, snapshotter)
	if err != nil {
		// Content missing or unreadable: importing again repairs it.
		return false, nil //nolint:nilerr // a broken image is rebuilt, not an error
	}
	return unpacked, nil
}
