package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// connect returns the containerd client, creating it on first use. Creating it does not dial:
// an unreachable containerd shows up as an Unavailable error of the first call.
func (i *Importer) connect() (*containerd.Client, error) {
	i.clientMu.Lock()
	defer i.clientMu.Unlock()
	if i.client != nil {
		return i.client, nil
	}
	c, err := containerd.New(i.address, containerd.WithDefaultNamespace(Namespace))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", i.address, errors.Join(err, errdefs.ErrUnavailable))
	}
	i.client = c
	return c, nil
}

// importTar imports an uncompressed archive into the k8s.io namespace for the current
// platform, labels the images for the CRI (managed, pinned) and unpacks them into the
// overlayfs snapshotter. It returns the names of the images that are ready to run.
//
// This follows `ctr images import` (cmd/ctr/commands/images/import.go) and K3s: one lease
// holds the content and snapshots until the image records and the snapshot GC label on the
// config (set by Unpack) reference them.
func (i *Importer) importTar(ctx context.Context, r io.Reader) ([]string, error) {
	c, err := i.connect()
	if err != nil {
		return nil, err
	}
	return importAndUnpack(ctx, c, r, Snapshotter, nil)
}

// importAndUnpack is importTar for a given client and snapshotter; extraLabels are set on
// the image records beside the CRI labels.
func importAndUnpack(ctx context.Context, c *containerd.Client, r io.Reader, snapshotter string, extraLabels map[string]string) ([]string, error) {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	ctx, done, err := c.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("create lease: %w", err)
	}
	defer done(context.WithoutCancel(ctx)) //nolint:errcheck // the lease expires by itself

	labels := map[string]string{
		criImageLabelKey:  criImageLabelValue,
		criPinnedLabelKey: criPinnedLabelValue,
	}
	maps.Copy(labels, extraLabels)
	platform := platforms.Default()
	imgs, err := c.Import(ctx, r,
		containerd.WithImportPlatform(platform),
		containerd.WithImageRefTranslator(ociRefName),
		containerd.WithImageLabels(labels),
	)
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errNoImages
	}

	var (
		names []string
		errs  []error
	)
	for _, img := range imgs {
		if err := checkPlatform(ctx, c.ContentStore(), img, platform); err != nil {
			// Built for another platform, or its manifest is missing from the archive: the
			// record would only make the CRI fail to load it (and its content, referenced
			// by nothing, would be garbage collected).
			errs = append(errs, fmt.Errorf("image %s: %w", img.Name, err))
			_ = c.ImageService().Delete(ctx, img.Name)
			continue
		}
		if err := containerd.NewImageWithPlatform(c, img, platform).Unpack(ctx, snapshotter); err != nil {
			errs = append(errs, fmt.Errorf("unpack image %s: %w", img.Name, err))
			continue
		}
		names = append(names, img.Name)
	}
	return names, errors.Join(errs...)
}

// checkPlatform returns an error unless img can run on platform. containerd's
// importer filters the manifests of an index by platform, but it still creates the image
// records of the index's entries, and a single-platform manifest is never checked.
func checkPlatform(ctx context.Context, cs content.Provider, img images.Image, platform platforms.MatchComparer) error {
	if p := img.Target.Platform; p != nil && !platform.Match(*p) {
		return fmt.Errorf("built for %s, not %s: %w", platforms.Format(*p), platforms.DefaultString(), errdefs.ErrNotFound)
	}
	manifest, err := images.Manifest(ctx, cs, img.Target, platform)
	if err != nil {
		return fmt.Errorf("no image for %s: %w", platforms.DefaultString(), err)
	}
	p, err := images.ConfigPlatform(ctx, cs, manifest.Config)
	if err != nil {
		return err
	}
	if (p.OS != "" || p.Architecture != "") && !platform.Match(p) {
		return fmt.Errorf("built for %s, not %s: %w", platforms.Format(p), platforms.DefaultString(), errdefs.ErrNotFound)
	}
	return nil
}

// ociRefName names an image whose index entry has only an org.opencontainers.image.ref.name
// annotation (no io.containerd.image.name): a full reference is normalized
// ("busybox:1.36" → "docker.io/library/busybox:1.36"); a bare tag such as "latest", which most
// OCI tools write there, names nothing and the image is not created.
func ociRefName(ref string) string {
	if !strings.ContainsAny(ref, "/:@") {
		return ""
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return ""
	}
	return named.String()
}

// listImages returns the names of the images in the k8s.io namespace.
func (i *Importer) listImages(ctx context.Context) (map[string]bool, error) {
	c, err := i.connect()
	if err != nil {
		return nil, err
	}
	imgs, err := c.ImageService().List(namespaces.WithNamespace(ctx, Namespace))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	names := make(map[string]bool, len(imgs))
	for _, img := range imgs {
		names[img.Name] = true
	}
	return names, nil
}

// transient reports whether err says nothing about the archive: containerd unreachable or
// the context ended. Such a failure is retried on the next scan even if the file is unchanged.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errdefs.IsUnavailable(err) || errdefs.IsCanceled(err) || errdefs.IsDeadlineExceeded(err) {
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
			return true
		}
	}
	return false
}
