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
	"github.com/edgek-io/edgek/pkg/version"
)

// Runners are what the commands run once their configuration is built. They are passed
// in by main so that this package (and its tests) do not link Kubernetes.
type Runners struct {
	Server func(ctx context.Context, c *config.Server, log *slog.Logger) error
	Agent  func(ctx context.Context, a *config.Agent, log *slog.Logger) error
	// The tools edgek also is (see Tool): args[0] is the tool's name.
	Kubectl, Ctr, Crictl, Containerd func(args []string) int
	CheckConfig                      func(w io.Writer) (ok bool)
	Killall                          func(ctx context.Context, dataDir string, dryRun, debug bool) error
	Token                            func(ctx context.Context, c config.TokenCommand, out io.Writer) error
	// RotateKeys is `edgek secrets-encrypt rotate-keys` on the server of dataDir.
	RotateKeys func(ctx context.Context, dataDir string, out io.Writer) error
}

// App returns the edgek command-line application. ctx is cancelled on SIGTERM/SIGINT.
func App(ctx context.Context, stderr io.Writer, r Runners) *cli.App {
	commands := []*cli.Command{serverCommand(ctx, stderr, r), agentCommand(ctx, stderr, r)}
	commands = append(commands, toolCommands(r)...)
	commands = append(commands, checkConfigCommand(r), killallCommand(r), certificateCommand(), tokenCommand(r), secretsEncryptCommand(r))
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
