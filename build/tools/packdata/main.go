// Command packdata writes the archive edgek embeds (pkg/data): a tar of bin/<name> entries, one
// per regular file of a directory, compressed with zstd. The tar is reproducible (sorted names,
// mode 0755, owner 0:0, mtime 0) so that the same binaries give the same archive hash.
//
//	packdata -o data.tar.zst [-tar] DIR
//
// With -tar the output is the plain tar, for an external compressor (the zstd CLI compresses
// better than this package's best level).
package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
)

func main() {
	out := flag.String("o", "", "output file")
	plain := flag.Bool("tar", false, "write an uncompressed tar")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: packdata -o FILE [-tar] DIR")
		os.Exit(2)
	}
	if err := pack(*out, flag.Arg(0), *plain); err != nil {
		fmt.Fprintln(os.Stderr, "packdata:", err)
		os.Exit(1)
	}
}

func pack(out, dir string, plain bool) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	var w io.Writer = f
	var zw *zstd.Encoder
	if !plain {
		// A 32 MiB window spans the whole tar (the plugins share much code) and is what a
		// decoder must hold in memory once, at first start.
		zw, err = zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(32<<20))
		if err != nil {
			return err
		}
		w = zw
	}
	if err := writeTar(w, dir); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

func writeTar(w io.Writer, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return errors.New(dir + ": no files")
	}
	slices.Sort(names)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	for _, name := range names {
		if err := addFile(tw, filepath.Join(dir, name), "bin/"+name, epoch); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, path, name string, mtime time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: st.Size(), Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
