package cli

import "github.com/urfave/cli/v2"

func killallCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:  "killall",
		Usage: "stop edgek, its containers and shims, and remove the network devices, iptables rules and mounts it made (the data dir stays)",
		// --config: a data dir set only in the config file is found, as edgek server/agent find it.
		Flags: []cli.Flag{configFlag(), dataDirFlag(), debugFlag(), boolean("dry-run", "only print what would be done")},
		Action: func(cc *cli.Context) error {
			return r.Killall(cc.Context, cc.String(dataDirFlagName), cc.Bool("dry-run"), cc.Bool(debugFlagName))
		},
	}
}
