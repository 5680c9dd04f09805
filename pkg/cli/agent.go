package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/logging"
	"github.com/edgek-io/edgek/pkg/version"
)

func agentCommand(ctx context.Context, stderr io.Writer, r Runners) *cli.Command {
	s := agentSettings()
	return &cli.Command{
		Name:  "agent",
		Usage: "run a node that joins a server (kubelet, containerd, flannel, kube-proxy)",
		Flags: s.Flags(),
		Action: func(cc *cli.Context) error {
			// Not Before: App sets that to read the config file.
			if err := noArgs(cc); err != nil {
				return err
			}
			a, err := agentConfig(cc, s)
			if err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			debug := cc.Bool(debugFlagName)
			log := logging.New(stderr, debug)
			logging.RouteUpstream(log, debug)
			log.Info("starting edgek agent", "version", version.Version, "data-dir", a.DataDir, "server", a.ServerURL, "node-ip", a.NodeIP, "node-name", a.NodeName)
			return r.Agent(ctx, a, log)
		},
	}
}

// agentSettings are the flags of `edgek agent`: where to join, and the node settings it
// shares with `edgek server`. The cluster's network (--flannel-backend among it) is the
// server's, learned at start.
func agentSettings() settings[config.Agent] {
	type a = config.Agent
	s := settings[a]{
		flagOnly[a](configFlag()),
		flagOnly[a](debugFlag()),
		stringSetting(dataDirFlagName, config.DefaultDataDir, dataDirUsage, func(s *a) *string { return &s.DataDir }, "EDGEK_DATA_DIR"),
		stringSetting("server", "", "URL of the server to join, e.g. https://10.0.0.1:6443", func(s *a) *string { return &s.ServerURL }, "EDGEK_URL"),
	}
	s = append(s, tokenSettings(func(s *a) *string { return &s.Token })...)
	return append(s, within(nodeSettings(), func(s *a) *config.NodeSettings { return &s.NodeSettings })...)
}

// agentConfig builds and validates the configuration of `edgek agent`. The cluster's
// network comes from the server at start.
func agentConfig(cc *cli.Context, s settings[config.Agent]) (*config.Agent, error) {
	a := &config.Agent{PauseImage: config.PauseImage}
	if err := s.Read(cc, a); err != nil {
		return a, err
	}
	return a, errors.Join(hostDefaults(&a.NodeSettings), a.Validate())
}
