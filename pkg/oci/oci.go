// Package oci builds small container images without Docker or a registry, using only the
// standard library. edgek uses it at start-up (the pause image from a static binary it carries)
// and tests use it (a static Go server image).
//
// WriteArchive writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) as one tar
// stream. Each image gets its own entry in index.json carrying both annotations containerd's
// exporter writes:
//
//	io.containerd.image.name       = "docker.io/edgek/pause:3.10" (the normalized reference)
//	org.opencontainers.image.ref.name = "3.10"                    (the tag, as the OCI spec suggests)
//
// containerd's importer (client.Import, `ctr images import`) names the image from
// io.containerd.image.name when present and only falls back to ref.name (through a translator)
// otherwise, so the image lands under its full normalized name, which is also the name the
// CRI resolves when the kubelet asks for "edgek/pause:3.10". (A docker-archive would get the same
// name from manifest.json RepoTags, but with Docker media types and no per-image platform; the
// OCI layout is the format containerd itself exports.)
//
// Each image has one gzip-compressed layer holding its Files, parent directories created
// automatically. Output is deterministic: fixed mtimes (Unix epoch), uid/gid 0, entries sorted,
// so the same input gives the same digests.
package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"time"
)

// Media types and annotation keys written into the archive.
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"

	// AnnotationImageName is containerd's full image name annotation.
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationRefName is the OCI reference (tag) annotation.
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// epoch is the mtime of every tar entry, in the layer and in the archive.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of an image's single layer.
type File struct {
	// Path inside the image, e.g. "/pause". Parent directories are created (mode 0755).
	Path string
	// Mode holds permission bits (0644 for a regular file and 0755 for a directory when zero),
	// setuid/setgid/sticky, and os.ModeDir or os.ModeSymlink for those entry types.
	Mode os.FileMode
	// Data is the file content; for a symlink, the link target. Unused for a directory.
	Data []byte
}

// Image describes one image to build.
type Image struct {
	// Ref is the image reference, e.g. "docker.io/edgek/pause:3.10". It is normalized as
	// containerd and the CRI do: "edgek/pause" becomes "docker.io/edgek/pause:latest".
	// Digest references are refused.
	Ref          string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts []string // e.g. "8080/tcp"
	Labels       map[string]string
	// Files make up the image's one layer.
	Files []File
	// OS defaults to "linux", Arch to runtime.GOARCH. Variant is optional (e.g. "v7" for arm).
	OS, Arch, Variant string
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is the platform of a manifest in an index.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Index is index.json of an OCI image layout.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Config is the subset of the OCI image configuration edgek writes.
type Config struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Config       ContainerConfig `json:"config"`
	RootFS       RootFS          `json:"rootfs"`
	History      []History       `json:"history,omitempty"`
}

// ContainerConfig is the execution part of an image configuration.
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
}

// RootFS lists the uncompressed digests of an image's layers.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History records how a layer was made.
type History struct {
	CreatedBy string `json:"created_by,omitempty"`
}

// layoutFile is the content of the oci-layout file.
const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// WriteArchive writes one OCI image layout tar holding imgs to w.
func WriteArchive(w io.Writer, imgs ...Image) error {
	if len(imgs) == 0 {
		return errors.New("no images to write")
	}
	blobs := map[string][]byte{}
	index := Index{SchemaVersion: 2, MediaType: MediaTypeIndex}
	seen := map[string]bool{}
	for _, img := range imgs {
		name, tag, err := NormalizeRef(img.Ref)
		if err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("image %q: given twice", name)
		}
		seen[name] = true
		desc, err := buildImage(img, blobs)
		if err != nil {
			return fmt.Errorf("image %q: %w", name, err)
		}
		desc.Annotations = map[string]string{AnnotationImageName: name, AnnotationRefName: tag}
		index.Manifests = append(index.Manifests, desc)
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	if err := writeEntry(tw, "oci-layout", []byte(layoutFile)); err != nil {
		return err
	}
	if err := writeEntry(tw, "index.json", indexJSON); err != nil {
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(dirHeader(dir, 0o755)); err != nil {
			return err
		}
	}
	for _, d := range slices.Sorted(maps.Keys(blobs)) {
		if err := writeEntry(tw, "blobs/sha256/"+d[len("sha256:"):], blobs[d]); err != nil {
			return err
		}
	}
	return tw.Close()
}

// buildImage adds the layer, config and manifest blobs of img to blobs and returns the
// manifest's descriptor (with platform, without annotations).
func buildImage(img Image, blobs map[string][]byte) (Descriptor, error) {
	platform := Platform{OS: img.OS, Architecture: img.Arch, Variant: img.Variant}
	if platform.OS == "" {
		platform.OS = "linux"
	}
	if platform.Architecture == "" {
		platform.Architecture = runtime.GOARCH
	}

	layer, diffID, err := buildLayer(img.Files)
	if err != nil {
		return Descriptor{}, err
	}
	layerDesc := addBlob(blobs, MediaTypeLayer, layer)

	cfg := Config{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		Config: ContainerConfig{
			User:       img.User,
			Env:        img.Env,
			Entrypoint: img.Entrypoint,
			Cmd:        img.Cmd,
			WorkingDir: img.WorkingDir,
			Labels:     img.Labels,
		},
		RootFS:  RootFS{Type: "layers", DiffIDs: []string{diffID}},
		History: []History{{CreatedBy: "edgek pkg/oci"}},
	}
	if len(img.ExposedPorts) > 0 {
		cfg.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range img.ExposedPorts {
			cfg.Config.ExposedPorts[p] = struct{}{}
		}
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return Descriptor{}, err
	}
	cfgDesc := addBlob(blobs, MediaTypeConfig, cfgJSON)

	mf, err := json.Marshal(Manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeManifest,
		Config:        cfgDesc,
		Layers:        []Descriptor{layerDesc},
	})
	if err != nil {
		return Descriptor{}, err
	}
	desc := addBlob(blobs, MediaTypeManifest, mf)
	desc.Platform = &platform
	return desc, nil
}

// addBlob stores data under its digest and returns its descriptor.
func addBlob(blobs map[string][]byte, mediaType string, data []byte) Descriptor {
	d := Digest(data)
	blobs[d] = data
	return Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// Digest returns the "sha256:<hex>" digest of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// buildLayer returns the gzip-compressed layer tar of files and its uncompressed digest.
func buildLayer(files []File) (layer []byte, diffID string, err error) {
	var raw bytes.Buffer
	if err := writeLayerTar(&raw, files); err != nil {
		return nil, "", err
	}
	diffID = Digest(raw.Bytes())

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, "", err
	}
	// The zero gzip header (no name, zero mtime) keeps the output deterministic.
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

func writeEntry(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     int64(len(data)),
		ModTime:  epoch,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func dirHeader(name string, mode int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeDir,
		Name:     name,
		Mode:     mode,
		ModTime:  epoch,
		Format:   tar.FormatPAX,
	}
}
