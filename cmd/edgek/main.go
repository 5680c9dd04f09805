// Command edgek is a lightweight Kubernetes distribution in one binary. Called by another
// name (kubectl, ctr, crictl, containerd), or with that name as its first argument, it acts
// as that program (cli.Tool).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/edgek-io/edgek/pkg/agent"
	"github.com/edgek-io/edgek/pkg/checkconfig"
	"github.com/edgek-io/edgek/pkg/cli"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/containerdcmd"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/killall"
	"github.com/edgek-io/edgek/pkg/logging"
	"github.com/edgek-io/edgek/pkg/secretsenc"
	"github.com/edgek-io/edgek/pkg/server"
	"github.com/edgek-io/edgek/pkg/server/encryption"
	"github.com/edgek-io/edgek/pkg/tokencmd"
)

// envDataDir is the data dir of the node that ctr and crictl talk to: $EDGEK_DATA_DIR or
// the default.
func envDataDir() string {
	if d := os.Getenv("EDGEK_DATA_DIR"); d != "" {
		return d
	}
	return config.DefaultDataDir
}

// containerdSocket is the socket of that node's containerd.
func containerdSocket() string { return (&config.Agent{DataDir: envDataDir()}).ContainerdSocket() }

func main() {
	r := cli.Runners{
		Server:      server.Run,
		Agent:       agent.Run,
		Kubectl:     func(args []string) int { return k8s.Kubectl(args[1:], config.DefaultKubeconfig) },
		Ctr:         func(args []string) int { return containerdcmd.Ctr(args, containerdSocket()) },
		Crictl:      func(args []string) int { return containerdcmd.Crictl(args, envDataDir(), containerdSocket()) },
		Containerd:  containerdcmd.Containerd,
		CheckConfig: checkConfig,
		Killall:     runKillall,
		Token:       tokencmd.Run,
		RotateKeys:  rotateKeys,
	}
	// kubectl, ctr, crictl, containerd: by a link of that name, or edgek's first argument.
	if run, ok := cli.Tool(os.Args, r); ok {
		os.Exit(run())
	}
	os.Exit(cli.Main(signalContext(), os.Args, r))
}

// rotateKeys is `edgek secrets-encrypt rotate-keys` on the server of dataDir.
func rotateKeys(ctx context.Context, dataDir string, out io.Writer) error {
	srv := &config.Server{DataDir: dataDir}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	client := func() (kubernetes.Interface, error) { return k8s.Client(srv.Kubeconfig("admin")) }
	return encryption.RotateKey(ctx, client, secretsenc.In(srv.CredDir()), time.Now(), out)
}

func checkConfig(w io.Writer) bool {
	r := checkconfig.Run(checkconfig.DefaultEnv())
	r.Write(w)
	return !r.Failed()
}

func runKillall(ctx context.Context, dataDir string, dryRun, debug bool) error {
	log := logging.New(os.Stderr, debug)
	return killall.Run(ctx, killall.Options{DataDir: dataDir, Log: log, DryRun: dryRun})
}

// signalContext is cancelled by the first SIGTERM or SIGINT; a second one exits at once.
func signalContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-ch
		cancel(fmt.Errorf("received %v", sig))
		<-ch
		fmt.Fprintln(os.Stderr, "edgek: second signal, exiting now")
		os.Exit(1)
	}()
	return ctx
}
