package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/certcmd"
)

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
					return certcmd.Check(os.Stdout, cc.String(dataDirFlagName), time.Now())
				},
			},
			{
				Name:  "rotate",
				Usage: "with edgek stopped: move the leaf certificates aside, so that the next start issues new ones",
				Flags: []cli.Flag{dataDirFlag()},
				Action: func(cc *cli.Context) error {
					moved, err := certcmd.Rotate(cc.String(dataDirFlagName), time.Now())
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
