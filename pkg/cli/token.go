package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
)

// tokenCommand is `edgek token create|list|delete|rotate` (kubeadm's and K3s's names).
func tokenCommand(r Runners) *cli.Command {
	run := func(op string, fill func(cc *cli.Context, c *config.TokenCommand)) cli.ActionFunc {
		return func(cc *cli.Context) error {
			c := config.TokenCommand{Op: op, DataDir: cc.String(dataDirFlagName)}
			if fill != nil {
				fill(cc, &c)
			}
			return r.Token(cc.Context, c, os.Stdout)
		}
	}
	return &cli.Command{
		Name:  "token",
		Usage: "manage join tokens (on a server): create tokens that expire, list, delete, rotate the server's",
		Subcommands: []*cli.Command{
			{
				Name:   "create",
				Usage:  "make a token that joins agents (edgek agent --token ...) until it expires, and print it",
				Flags:  []cli.Flag{dataDirFlag(), &cli.DurationFlag{Name: "ttl", Value: 24 * time.Hour, Usage: "how long the token joins agents (0: forever)"}, str("description", "", "what the token is for, shown by list")},
				Before: noArgs,
				Action: run("create", func(cc *cli.Context, c *config.TokenCommand) {
					c.TTL, c.Description = cc.Duration("ttl"), cc.String("description")
				}),
			},
			{
				Name:   "list",
				Usage:  "list the tokens by ID, with their expiry (a token's secret is shown once, at create)",
				Flags:  []cli.Flag{dataDirFlag()},
				Before: noArgs,
				Action: run("list", nil),
			},
			{
				Name:      "delete",
				Usage:     "delete tokens: agents cannot join with them any more (joined nodes stay)",
				ArgsUsage: "ID...",
				Flags:     []cli.Flag{dataDirFlag()},
				Before: func(cc *cli.Context) error {
					for _, a := range cc.Args().Slice() {
						if strings.HasPrefix(a, "-") {
							return fmt.Errorf("%s after the token IDs: flags go first (edgek token delete --data-dir DIR ID...)", a)
						}
					}
					return nil
				},
				Action: run("delete", func(cc *cli.Context, c *config.TokenCommand) { c.IDs = cc.Args().Slice() }),
			},
			{
				Name:  "rotate",
				Usage: "replace the server's token (joined nodes keep working; new agents need the new token)",
				Flags: []cli.Flag{dataDirFlag(), str("new-token", "", "the new token's secret (default: a random one)"),
					boolean("force", "rotate even where the server's configuration sets the token (then change it there)")},
				Before: noArgs,
				Action: run("rotate", func(cc *cli.Context, c *config.TokenCommand) {
					c.NewToken, c.Force = cc.String("new-token"), cc.Bool("force")
				}),
			},
		},
	}
}
