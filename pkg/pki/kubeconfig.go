package pki

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgek-io/edgek/pkg/fsutil"
)

// WriteKubeconfig writes a kubeconfig with one cluster, user and context, all
// named "default" (the current context), that talks to serverURL (https)
// trusting caCertFile and authenticating with client; the three files are
// embedded base64-encoded. The file is written atomically with mode (also when
// it already exists); its parent directory is created 0755 if missing.
func WriteKubeconfig(path, serverURL, caCertFile string, client CertPair, mode os.FileMode) error {
	if err := checkServerURL(serverURL); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	var data [3][]byte
	for i, f := range []string{caCertFile, client.Cert, client.Key} {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("write kubeconfig %s: %w", path, err)
		}
		if block, _ := pem.Decode(b); block == nil {
			return fmt.Errorf("write kubeconfig %s: %s holds no PEM data", path, f)
		}
		data[i] = b
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	b64 := base64.StdEncoding.EncodeToString
	user := fmt.Sprintf("client-certificate-data: %s\n    client-key-data: %s", b64(data[1]), b64(data[2]))
	content := renderKubeconfig(serverURL, data[0], user)
	if err := fsutil.WriteFileIfChanged(path, content, mode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// WriteKubeconfigFiles writes a kubeconfig like WriteKubeconfig whose client certificate and
// key are named by their absolute paths instead of embedded: client-go reads them again when
// they change (it checks every few minutes and reconnects), so the components that run in
// edgek's process keep working across a certificate renewal without a restart. For the
// kubeconfigs of edgek's own components; one handed to users embeds (WriteKubeconfig).
func WriteKubeconfigFiles(path, serverURL, caCertFile string, client CertPair, mode os.FileMode) error {
	if err := checkServerURL(serverURL); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	ca, err := os.ReadFile(caCertFile)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if block, _ := pem.Decode(ca); block == nil {
		return fmt.Errorf("write kubeconfig %s: %s holds no PEM data", path, caCertFile)
	}
	var files [2]string
	for i, f := range []string{client.Cert, client.Key} {
		if files[i], err = filepath.Abs(f); err != nil {
			return fmt.Errorf("write kubeconfig %s: %w", path, err)
		}
		if _, err := os.Stat(files[i]); err != nil {
			return fmt.Errorf("write kubeconfig %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	user := fmt.Sprintf("client-certificate: %s\n    client-key: %s", strconv.Quote(files[0]), strconv.Quote(files[1]))
	if err := fsutil.WriteFileIfChanged(path, renderKubeconfig(serverURL, ca, user), mode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

func checkServerURL(serverURL string) error {
	u, err := url.Parse(serverURL)
	if err != nil {
		return fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("server URL %q: want https://host[:port]", serverURL)
	}
	return nil
}

// renderKubeconfig returns the kubeconfig YAML. The server URL is quoted (a
// Go-quoted string is a valid YAML double-quoted scalar); base64 needs none.
func renderKubeconfig(serverURL string, ca []byte, user string) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: default
  user:
    %s
contexts:
- name: default
  context:
    cluster: default
    user: default
current-context: default
preferences: {}
`, strconv.Quote(serverURL), b64(ca), user)
}

// WriteTokenKubeconfig writes a kubeconfig like WriteKubeconfig whose user authenticates
// with a bearer token, e.g. a joining agent's bootstrap token. caPEM is the CA itself.
func WriteTokenKubeconfig(path, serverURL string, caPEM []byte, token string, mode os.FileMode) error {
	if err := checkServerURL(serverURL); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if block, _ := pem.Decode(caPEM); block == nil {
		return fmt.Errorf("write kubeconfig %s: the CA holds no PEM data", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	content := renderKubeconfig(serverURL, caPEM, "token: "+strconv.Quote(token))
	if err := fsutil.WriteFileIfChanged(path, content, mode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
