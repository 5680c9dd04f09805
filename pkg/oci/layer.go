package oci

import (
	"archive/tar"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// writeLayerTar writes files, and every parent directory they need, as one sorted,
// deterministic tar stream.
func writeLayerTar(w io.Writer, files []File) error {
	entries := map[string]File{} // by tar name without a trailing slash: "etc/passwd"
	for _, f := range files {
		name, err := cleanPath(f.Path)
		if err != nil {
			return err
		}
		if _, dup := entries[name]; dup {
			return fmt.Errorf("file %q given twice", f.Path)
		}
		entries[name] = f
	}
	// Add missing parents; a parent that is not a directory is an error.
	for name := range entries {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			parent, ok := entries[dir]
			if !ok {
				entries[dir] = File{Path: "/" + dir, Mode: os.ModeDir | 0o755}
			} else if !parent.Mode.IsDir() {
				return fmt.Errorf("%q is not a directory (needed for %q)", "/"+dir, "/"+name)
			}
		}
	}
	// Sorted names put "etc" before "etc/passwd": parents always come first.
	names := slices.Sorted(maps.Keys(entries))

	tw := tar.NewWriter(w)
	for _, name := range names {
		f := entries[name]
		hdr := &tar.Header{
			Name:    name,
			Mode:    tarMode(f.Mode),
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			if f.Mode.Perm() == 0 {
				hdr.Mode |= 0o755
			}
		case f.Mode&os.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = string(f.Data)
			hdr.Mode |= 0o777
		case f.Mode.IsRegular():
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
			if f.Mode.Perm() == 0 {
				hdr.Mode |= 0o644
			}
		default:
			return fmt.Errorf("file %q: unsupported mode %v", f.Path, f.Mode)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("file %q: %w", f.Path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return fmt.Errorf("file %q: %w", f.Path, err)
			}
		}
	}
	return tw.Close()
}

// cleanPath turns an image path ("/usr/bin/x") into a tar entry name ("usr/bin/x").
func cleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty file path")
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", fmt.Errorf("file path %q: must not contain ..", p)
		}
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		return "", fmt.Errorf("file path %q: names the root directory", p)
	}
	return name, nil
}

// tarMode converts permission and special bits of m to a tar header mode.
func tarMode(m os.FileMode) int64 {
	mode := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
