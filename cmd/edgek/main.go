// Command edgek is a lightweight Kubernetes distribution in one binary. Called by another
// name (kubectl, ...) it acts as that program.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/edgek-io/edgek/pkg/cli"
	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/server"
)

func main() {
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(k8s.Kubectl(os.Args[1:], config.DefaultKubeconfig))
	}
	os.Exit(cli.Main(signalContext(), os.Args, cli.Runners{Server: server.Run, Kubectl: k8s.Kubectl}))
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
