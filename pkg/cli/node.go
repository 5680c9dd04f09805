package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/certcmd"
	"github.com/edgek-io/edgek/pkg/logging"
	"github.com/edgek-io/edgek/pkg/version"
)

func agentFlags() []cli.Flag {
	flags := []cli.Flag{
		configFlag(),
		debugFlag(),
		dataDirFlag(),
		str("server", "", "URL of the server to join, e.g. https://10.0.0.1:6443", "EDGEK_URL"),
		str("token", "", "join token: the contents of the server's <data-dir>/server/token"),
		str("token-file", "", "file holding the join token (instead of --token)"),
		str("node-ip", "", "IP address this node advertises (default: address of the default-route interface)"),
		str("node-name", "", "node name (default: hostname)"),
	}
	// The pod network backend is the cluster's: a joining agent takes the server's.
	for _, f := range nodeFlags() {
		if f.Names()[0] != "flannel-backend" {
			flags = append(flags, f)
		}
	}
	return flags
}

func agentCommand(ctx context.Context, stderr io.Writer, r Runners) *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run a node that joins a server (kubelet, containerd, flannel, kube-proxy)",
		Flags: agentFlags(),
		Action: func(cc *cli.Context) error {
			if cc.NArg() > 0 {
				return fmt.Errorf("unexpected argument %q (flags start with --)", cc.Args().First())
			}
			a, err := agentConfig(cc)
			if err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			log := logging.New(stderr, cc.Bool("debug"))
			logging.RouteUpstream(log, cc.Bool("debug"))
			log.Info("starting edgek agent", "version", version.Version, "data-dir", a.DataDir, "server", a.ServerURL, "node-ip", a.NodeIP, "node-name", a.NodeName)
			return r.Agent(ctx, a, log)
		},
	}
}

func checkConfigCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:  "check-config",
		Usage: "check that this host can run an edgek node; exit 1 if it cannot",
		Action: func(*cli.Context) error {
			if !r.CheckConfig(os.Stdout) {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

func killallCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:  "killall",
		Usage: "stop edgek, its containers and shims, and remove the network devices, iptables rules and mounts it made (the data dir stays)",
		// --config: a data dir set only in the config file is found, as edgek server/agent find it.
		Flags: []cli.Flag{configFlag(), dataDirFlag(), debugFlag(), boolean("dry-run", "only print what would be done")},
		Action: func(cc *cli.Context) error {
			return r.Killall(cc.Context, cc.String("data-dir"), cc.Bool("dry-run"), cc.Bool("debug"))
		},
	}
}

func ctrCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:            "ctr",
		Usage:           "run ctr against edgek's containerd (namespace k8s.io; data dir from $EDGEK_DATA_DIR)",
		SkipFlagParsing: true,
		Action: func(cc *cli.Context) error {
			if code := r.Ctr(append([]string{"ctr"}, cc.Args().Slice()...)); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

func crictlCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:            "crictl",
		Usage:           "run crictl against edgek's containerd (data dir from $EDGEK_DATA_DIR)",
		SkipFlagParsing: true,
		Action: func(cc *cli.Context) error {
			if code := r.Crictl(append([]string{"crictl"}, cc.Args().Slice()...)); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

func certificateCommand() *cli.Command {
	return &cli.Command{
		Name:  "certificate",
		Usage: "check or rotate the certificates of a data dir (CAs and the service-account key are kept)",
		Subcommands: []*cli.Command{
			{
				Name:  "check",
				Usage: "list the certificates with their expiry; exit 1 if one has expired",
				Flags: []cli.Flag{dataDirFlag()},
				Action: func(cc *cli.Context) error {
					return certcmd.Check(os.Stdout, cc.String("data-dir"), time.Now())
				},
			},
			{
				Name:  "rotate",
				Usage: "with edgek stopped: move the leaf certificates aside, so that the next start issues new ones",
				Flags: []cli.Flag{dataDirFlag()},
				Action: func(cc *cli.Context) error {
					moved, err := certcmd.Rotate(cc.String("data-dir"), time.Now())
					for _, m := range moved {
						fmt.Println("rotated", m)
					}
					if err == nil {
						fmt.Println("start edgek to issue the new certificates")
					}
					return err
				},
			},
		},
	}
}
