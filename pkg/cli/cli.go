// Package cli defines edgek's command line: commands and flags, turned into a validated
// configuration that is handed to the component packages. It holds no logic of its own.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/logging"
	"github.com/edgek-io/edgek/pkg/version"
)

// Runners are what the commands run once their configuration is built. They are passed
// in by main so that this package (and its tests) do not link Kubernetes.
type Runners struct {
	Server      func(ctx context.Context, c *config.Server, log *slog.Logger) error
	Agent       func(ctx context.Context, a *config.Agent, log *slog.Logger) error
	Kubectl     func(args []string, defaultKubeconfig string) int
	Ctr         func(args []string) int
	Crictl      func(args []string) int
	CheckConfig func(w io.Writer) (ok bool)
	Killall     func(ctx context.Context, dataDir string, dryRun, debug bool) error
	Token       func(ctx context.Context, c config.TokenCommand, out io.Writer) error
	// RotateKeys is `edgek secrets-encrypt rotate-keys` on the server of dataDir.
	RotateKeys func(ctx context.Context, dataDir string, out io.Writer) error
}

// App returns the edgek command-line application. ctx is cancelled on SIGTERM/SIGINT.
func App(ctx context.Context, stderr io.Writer, r Runners) *cli.App {
	commands := []*cli.Command{
		serverCommand(ctx, stderr, r), agentCommand(ctx, stderr, r), kubectlCommand(r), ctrCommand(r), crictlCommand(r),
		checkConfigCommand(r), killallCommand(r), certificateCommand(), tokenCommand(r), secretsEncryptCommand(r),
	}
	known := map[string]bool{}
	for _, c := range commands {
		for _, f := range c.Flags {
			known[f.Names()[0]] = true
		}
	}
	for _, c := range commands {
		c.OnUsageError = usageError
		if slices.ContainsFunc(c.Flags, func(f cli.Flag) bool { return f.Names()[0] == configFlagName }) {
			c.Before = func(cc *cli.Context) error { return applyConfigFile(cc, known) }
		}
	}
	cli.VersionPrinter = func(*cli.Context) { fmt.Println(version.String()) }
	return &cli.App{
		Name:                 "edgek",
		Usage:                "lightweight Kubernetes for the edge",
		Version:              version.Version,
		Commands:             commands,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // main prints the error once
		OnUsageError:         usageError,
	}
}

// usageError reports a bad flag in one line instead of printing the whole help.
func usageError(cc *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%w (see '%s --help')", err, cc.Command.HelpName)
}

func serverCommand(ctx context.Context, stderr io.Writer, r Runners) *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run the Kubernetes control plane (and, unless --disable-agent, an agent)",
		Flags: serverFlags(),
		Action: func(cc *cli.Context) error {
			if cc.NArg() > 0 {
				return fmt.Errorf("unexpected argument %q (flags start with --)", cc.Args().First())
			}
			c, err := serverConfig(cc)
			if err == nil {
				err = c.Validate()
			}
			if err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			log := logging.New(stderr, c.Debug)
			logging.RouteUpstream(log, c.Debug)
			log.Info("starting edgek server", "version", version.Version, "data-dir", c.DataDir, "node-ip", c.NodeIP, "node-name", c.NodeName)
			return r.Server(ctx, c, log)
		},
	}
}

func kubectlCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:            "kubectl",
		Usage:           "run kubectl against this edgek (uses " + config.DefaultKubeconfig + " unless told otherwise)",
		SkipFlagParsing: true,
		Action: func(cc *cli.Context) error {
			if code := r.Kubectl(cc.Args().Slice(), config.DefaultKubeconfig); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
)

// Main runs the CLI with args (including the program name) and returns the exit code.
func Main(ctx context.Context, args []string, r Runners) int {
	err := App(ctx, os.Stderr, r).RunContext(ctx, args)
	if err == nil {
		return ExitOK
	}
	if ec, ok := err.(cli.ExitCoder); ok {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "edgek: "+msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "edgek: "+oneLine(err))
	return ExitError
}
