package containerdcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/edgek-io/edgek/pkg/data"
)

// Crictl runs the crictl edgek carries (see pkg/data) against address, unless the caller set
// CONTAINER_RUNTIME_ENDPOINT or --runtime-endpoint. dataDir is where the carried binaries are
// extracted. It only returns on failure.
func Crictl(args []string, dataDir, address string) int {
	bin, err := data.Extract(dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crictl:", err)
		return 1
	}
	env := os.Environ()
	if os.Getenv("CONTAINER_RUNTIME_ENDPOINT") == "" {
		env = append(env, "CONTAINER_RUNTIME_ENDPOINT=unix://"+address)
	}
	if os.Getenv("IMAGE_SERVICE_ENDPOINT") == "" {
		env = append(env, "IMAGE_SERVICE_ENDPOINT=unix://"+address)
	}
	path := filepath.Join(bin, "crictl")
	err = syscall.Exec(path, append([]string{"crictl"}, args[1:]...), env)
	fmt.Fprintln(os.Stderr, "crictl:", err)
	return 1
}
