package preflight

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritableDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "server")
	if err := WritableDir(dir, "/data"); err != nil {
		t.Fatalf("fresh dir: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the write probe was left behind: %v", entries)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, tt := range []struct{ dir, want string }{
		{filepath.Join(file, "server"), "data dir /data is not usable"},
		{"/proc", "data dir /data is not writable"}, // exists, but nothing can be created in it
	} {
		err := WritableDir(tt.dir, "/data")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--data-dir") {
			t.Errorf("WritableDir(%s) = %v, want %q and a hint", tt.dir, err, tt.want)
		}
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgek.lock")
	first, err := Lock(path, "edgek server", "/data")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path, "edgek server", "/data"); err == nil || !strings.Contains(err.Error(), "another edgek server is already running with data dir /data") {
		t.Errorf("second lock: %v", err)
	}
	first.Close()
	again, err := Lock(path, "edgek server", "/data")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Close()
}

func TestCheckPorts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = CheckPorts([]Port{LoopbackPort(port, "the kubelet API")})
	if err == nil || !strings.Contains(err.Error(), "(the kubelet API) on 127.0.0.1 is not free") {
		t.Errorf("busy port: %v", err)
	}
	l.Close()
	if err := CheckPorts([]Port{{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, What: "x"}}); err != nil {
		t.Errorf("free port: %v", err)
	}
}

func TestStorageDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "disk", "storage")
	if err := StorageDir(dir); err != nil {
		t.Fatalf("fresh dir: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, tt := range []struct{ dir, want string }{
		{filepath.Join(file, "storage"), "local storage dir " + filepath.Join(file, "storage") + " is not usable"},
		{"/proc", "local storage dir /proc is not writable"},
	} {
		err := StorageDir(tt.dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--default-local-storage-path") {
			t.Errorf("StorageDir(%s) = %v, want %q and a hint", tt.dir, err, tt.want)
		}
	}
}
