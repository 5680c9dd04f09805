// Package tokencmd is `edgek token`: join tokens for agents that expire (create, list,
// delete, as kubeadm's and K3s's), and rotation of the server's own token. It runs on a
// server, with the admin credentials of its data dir.
package tokencmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/edgek-io/edgek/pkg/config"
	"github.com/edgek-io/edgek/pkg/join"
	"github.com/edgek-io/edgek/pkg/k8s"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/server/bootstrap"
)

// Server is what the commands need of the server whose tokens they manage.
type Server struct {
	Client    kubernetes.Interface // with the admin credentials
	CACert    string               // the server CA file, whose hash full tokens pin
	TokenFile string               // the server's token
	// ConfigFiles are where a server's configuration may set its token (the installer's env
	// file, the config file): Rotate refuses when one does, unless forced.
	ConfigFiles []string
	Out         io.Writer
	Now         func() time.Time
}

// Run runs c against the server of c.DataDir.
func Run(ctx context.Context, c config.TokenCommand, out io.Writer) error {
	srv := &config.Server{DataDir: c.DataDir}
	client, err := k8s.Client(srv.Kubeconfig("admin"))
	if err != nil {
		return fmt.Errorf("%w (run this on a server, as root; --data-dir if it is not %s)", err, config.DefaultDataDir)
	}
	configs, _ := filepath.Glob(filepath.Join(filepath.Dir(config.DefaultConfigFile), "config.yaml.d", "*.yaml"))
	configs = append([]string{"/etc/systemd/system/edgek.service.env", "/etc/conf.d/edgek", config.DefaultConfigFile}, configs...)
	s := Server{Client: client, CACert: pki.ServerCAFile(srv.TLSDir()), TokenFile: srv.TokenFile(), ConfigFiles: configs, Out: out, Now: time.Now}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch c.Op {
	case "create":
		return s.Create(ctx, c.TTL, c.Description)
	case "list":
		return s.List(ctx)
	case "delete":
		return s.Delete(ctx, c.IDs)
	case "rotate":
		return s.Rotate(ctx, c.NewToken, c.Force)
	}
	return fmt.Errorf("unknown token command %q", c.Op)
}

// Labels of the tokens edgek token create makes (the server's own token is labelled
// managed-by edgek, and the server replaces it on its own).
var createdLabels = map[string]string{"app.kubernetes.io/managed-by": "edgek-token"}

// Create makes a bootstrap token that joins agents (and expires after ttl, if not 0) and
// prints it in full form, pinning the server CA.
func (s Server) Create(ctx context.Context, ttl time.Duration, description string) error {
	if ttl < 0 {
		return fmt.Errorf("--ttl %s is negative (0: never expires)", ttl)
	}
	tok, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return fmt.Errorf("generate token: %w", err)
	}
	id, secret, _ := strings.Cut(tok, ".")
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:               []byte(id),
		bootstrapapi.BootstrapTokenSecretKey:           []byte(secret),
		bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
		bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte(join.BootstrapGroup),
	}
	if description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(description)
	}
	if ttl > 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(s.Now().Add(ttl).UTC().Format(time.RFC3339))
	}
	full, err := pki.FullToken(s.CACert, tok)
	if err != nil {
		return err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem, Labels: createdLabels},
		Type:       corev1.SecretTypeBootstrapToken,
		Data:       data,
	}
	if _, err := s.Client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	fmt.Fprintln(s.Out, full)
	return nil
}

// List prints the bootstrap tokens by ID (their secrets are shown once, at create).
func (s Server) List(ctx context.Context) error {
	list, err := s.Client.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
		FieldSelector: "type=" + string(corev1.SecretTypeBootstrapToken),
	})
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Secret) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	now := s.Now()
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTTL\tEXPIRES\tDESCRIPTION")
	for _, sec := range list.Items {
		ttl, expires := "<forever>", "<never>"
		if e := string(sec.Data[bootstrapapi.BootstrapTokenExpirationKey]); e != "" {
			expires = e
			if t, err := time.Parse(time.RFC3339, e); err == nil {
				ttl = "expired"
				if left := t.Sub(now); left > 0 {
					ttl = left.Round(time.Second).String()
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sec.Data[bootstrapapi.BootstrapTokenIDKey], ttl, expires, sec.Data[bootstrapapi.BootstrapTokenDescriptionKey])
	}
	return tw.Flush()
}

// Delete deletes tokens given by ID or in full. The server token's is refused: rotate it.
func (s Server) Delete(ctx context.Context, tokens []string) error {
	if len(tokens) == 0 {
		return fmt.Errorf("no token given: edgek token delete ID... (edgek token list shows them)")
	}
	serverID := ""
	if secret, err := pki.StoredSecret(s.TokenFile); err == nil && secret != "" {
		serverID, _, _ = strings.Cut(pki.BootstrapToken(secret), ".")
	}
	for _, t := range tokens {
		id := t
		if _, secret, err := pki.ParseToken(t); err == nil && pki.IsBootstrapToken(secret) {
			id, _, _ = strings.Cut(secret, ".")
		}
		if !bootstraputil.IsValidBootstrapTokenID(id) {
			return fmt.Errorf("%q is not a token ID (6 characters of a-z, 0-9) nor a token made by edgek token create", t)
		}
		if id == serverID {
			return fmt.Errorf("token %s is the server's own token: use edgek token rotate to replace it", id)
		}
		err := s.Client.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no token %s (edgek token list shows them)", id)
		}
		if err != nil {
			return fmt.Errorf("delete token %s: %w", id, err)
		}
		fmt.Fprintln(s.Out, "deleted token", id)
	}
	return nil
}

// Rotate replaces the server's token with newToken (or a random one), and, when the server
// runs, its bootstrap token at once: the old token joins no one from then on. Joined nodes
// keep working: they authenticate with their certificates. Where the server's configuration
// sets the token, the server would refuse to start with the old one: Rotate refuses then,
// unless forced.
func (s Server) Rotate(ctx context.Context, newToken string, force bool) error {
	if set := tokenSetIn(s.ConfigFiles); len(set) > 0 && !force {
		return fmt.Errorf("the server's configuration sets its token in %s: after a rotate the server would not start with it; rerun with --force, then put the new token there before the server restarts", strings.Join(set, ", "))
	}
	full, _, err := pki.RotateToken(s.TokenFile, s.CACert, newToken)
	if err != nil {
		return err
	}
	_, secret, _ := pki.ParseToken(full)
	fmt.Fprintln(s.Out, full)
	if err := bootstrap.PublishServerToken(ctx, s.Client, pki.BootstrapToken(secret)); err != nil {
		fmt.Fprintf(s.Out, "# the server did not take it now (%v): the old token joins agents until the server restarts\n", err)
	}
	fmt.Fprintf(s.Out, "# %s holds the new token; if the server's configuration sets the token (--token, EDGEK_TOKEN, token: in the config file), change it there before the server restarts\n", s.TokenFile)
	return nil
}

// tokenSetIn returns the files among files that set a server token: EDGEK_TOKEN or
// EDGEK_TOKEN_FILE in an env file, token or token-file in a config file.
func tokenSetIn(files []string) []string {
	var set []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
			if strings.HasPrefix(line, "EDGEK_TOKEN=") || strings.HasPrefix(line, "EDGEK_TOKEN_FILE=") ||
				strings.HasPrefix(line, "token:") || strings.HasPrefix(line, "token-file:") {
				set = append(set, f)
				break
			}
		}
	}
	return set
}
