package cli

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/secretsenc"
)

// secretsEncryptCommand is `edgek secrets-encrypt status|rotate-keys` (K3s's names).
func secretsEncryptCommand(r Runners) *cli.Command {
	return &cli.Command{
		Name:  "secrets-encrypt",
		Usage: "secrets encryption at rest (--secrets-encryption on the server)",
		Subcommands: []*cli.Command{{
			Name:  "status",
			Usage: "show whether Secrets are encrypted, the active key's name and whether every Secret uses it",
			Flags: []cli.Flag{dataDirFlag()},
			Action: func(cc *cli.Context) error {
				return secretsenc.In((&config.Server{DataDir: cc.String(dataDirFlagName)}).CredDir()).Status(os.Stdout)
			},
		}, {
			Name: "rotate-keys",
			Usage: "replace the encryption key while the server runs: add a new key, rewrite every Secret " +
				"with it, remove the old keys (run on the server, as root)",
			Flags:  []cli.Flag{dataDirFlag()},
			Before: noArgs,
			Action: func(cc *cli.Context) error {
				return r.RotateKeys(cc.Context, cc.String(dataDirFlagName), os.Stdout)
			},
		}},
	}
}
