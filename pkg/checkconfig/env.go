package checkconfig

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Env is what the checks read. DefaultEnv is the real host; tests point the roots at a
// fake tree and stub the functions.
type Env struct {
	// ProcRoot is where procfs is mounted. Default /proc.
	ProcRoot string
	// SysRoot is where sysfs is mounted. Default /sys.
	SysRoot string
	// BootRoot is where the boot files are (Raspberry Pi: cmdline.txt). Default /boot.
	BootRoot string
	// ModulesRoot holds the kernel modules, one directory per kernel release. Default /lib/modules.
	ModulesRoot string
	// LookPath finds a program on PATH. Default exec.LookPath.
	LookPath func(string) (string, error)
	// KernelConfig returns the kernel's build configuration (CONFIG_X → "y", "m" or "n").
	// Default: <ProcRoot>/config.gz, else /boot/config-<release>.
	KernelConfig func() (map[string]string, error)
	// Output runs a program and returns its standard output. Default: exec with a 5 s limit.
	Output func(name string, args ...string) (string, error)
}

// DefaultEnv is the real host.
func DefaultEnv() Env {
	return Env{
		ProcRoot:    "/proc",
		SysRoot:     "/sys",
		BootRoot:    "/boot",
		ModulesRoot: "/lib/modules",
		LookPath:    exec.LookPath,
		KernelConfig: func() (map[string]string, error) {
			return readKernelConfig("/proc", "/boot")
		},
		Output: runOutput,
	}
}

func runOutput(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}

// readKernelConfig reads <procRoot>/config.gz or <bootDir>/config-<release>.
func readKernelConfig(procRoot, bootDir string) (map[string]string, error) {
	if f, err := os.Open(filepath.Join(procRoot, "config.gz")); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name(), err)
		}
		return parseKernelConfig(zr)
	}
	rel, err := os.ReadFile(filepath.Join(procRoot, "sys", "kernel", "osrelease"))
	if err != nil {
		return nil, err
	}
	name := filepath.Join(bootDir, "config-"+strings.TrimSpace(string(rel)))
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no %s/config.gz and no %s", procRoot, name)
	}
	defer f.Close()
	return parseKernelConfig(f)
}

// parseKernelConfig reads a kernel .config: "CONFIG_X=y" and "# CONFIG_X is not set".
func parseKernelConfig(r io.Reader) (map[string]string, error) {
	cfg := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if sym, ok := strings.CutPrefix(line, "# "); ok {
			if sym, ok := strings.CutSuffix(sym, " is not set"); ok {
				cfg[sym] = "n"
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			cfg[k] = strings.Trim(v, `"`)
		}
	}
	return cfg, sc.Err()
}

// host is an Env with defaults filled in and what was read once.
type host struct {
	Env
	release   string            // kernel release, "6.1.0-18-arm64"
	config    map[string]string // nil when unknown, then configErr says why
	configErr error
	mods      *moduleIndex // nil when /lib/modules/<release> is unreadable
}

// withDefaults fills the empty fields of env with DefaultEnv's values.
func withDefaults(env Env) Env {
	def := DefaultEnv()
	if env.ProcRoot == "" {
		env.ProcRoot = def.ProcRoot
	}
	if env.SysRoot == "" {
		env.SysRoot = def.SysRoot
	}
	if env.BootRoot == "" {
		env.BootRoot = def.BootRoot
	}
	if env.ModulesRoot == "" {
		env.ModulesRoot = def.ModulesRoot
	}
	if env.LookPath == nil {
		env.LookPath = def.LookPath
	}
	if env.KernelConfig == nil {
		env.KernelConfig = def.KernelConfig
	}
	if env.Output == nil {
		env.Output = def.Output
	}
	return env
}

func newHost(env Env) *host {
	env = withDefaults(env)
	h := &host{Env: env}
	h.release = strings.TrimSpace(h.readProc("sys/kernel/osrelease"))
	cfg, err := env.KernelConfig()
	switch {
	case err != nil:
		h.configErr = err
	case len(cfg) == 0:
		h.configErr = errors.New("empty kernel config")
	default:
		h.config = cfg
	}
	if h.release != "" {
		h.mods = readModuleIndex(filepath.Join(env.ModulesRoot, h.release))
	}
	return h
}

func (h *host) proc(rel string) string { return filepath.Join(h.ProcRoot, rel) }
func (h *host) sys(rel string) string  { return filepath.Join(h.SysRoot, rel) }

// readProc returns a file under ProcRoot, "" when unreadable.
func (h *host) readProc(rel string) string {
	b, err := os.ReadFile(h.proc(rel))
	if err != nil {
		return ""
	}
	return string(b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// missingPrograms returns those of names that LookPath does not find.
func (h *host) missingPrograms(names ...string) []string {
	var missing []string
	for _, n := range names {
		if _, err := h.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	return missing
}
