package cli

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func agentFlags() []cli.Flag {
	return append([]cli.Flag{
		configFlag,
		debugFlag,
		dataDirFlag,
		str("server", "", "URL of the server to join, e.g. https://10.0.0.1:6443", "EDGEK_URL"),
		str("token", "", "join token of that server (its <data-dir>/server/token)"),
		str("node-ip", "", "IP address this node advertises"),
		str("node-name", "", "node name (default: hostname)"),
	}, nodeFlags()...)
}

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run a node that joins a server (kubelet, containerd, flannel, kube-proxy)",
		Flags: agentFlags(),
		Action: func(cc *cli.Context) error {
			if cc.String("server") == "" || cc.String("token") == "" {
				return fmt.Errorf("--server and --token are required (env EDGEK_URL, EDGEK_TOKEN)")
			}
			// Joining a remote server needs the server's supervisor API, which edgek does not
			// have yet; a server runs its own agent unless --disable-agent.
			return fmt.Errorf("joining a remote server is not supported yet: run edgek server (it includes an agent) on this node")
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
		Flags: []cli.Flag{dataDirFlag, debugFlag, boolean("dry-run", "only print what would be done")},
		Action: func(cc *cli.Context) error {
			return r.Killall(cc.Context, cc.String("data-dir"), cc.Bool("dry-run"), cc.Bool("debug"))
		},
	}
}

func ctrCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:            "ctr",
		Usage:           "run ctr against edgek's containerd (namespace k8s.io)",
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
