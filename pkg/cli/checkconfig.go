package cli

import (
	"os"

	"github.com/urfave/cli/v2"
)

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
