package encryption

import (
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgek-io/edgek/pkg/secretsenc"
)

func TestParseReloads(t *testing.T) {
	const metrics = `# HELP apiserver_encryption_config_controller_automatic_reloads_total [ALPHA] Total number of reload successes and failures of encryption configuration split by apiserver identity.
# TYPE apiserver_encryption_config_controller_automatic_reloads_total counter
apiserver_encryption_config_controller_automatic_reloads_total{apiserver_id_hash="sha256:14f9",status="failure"} 1
apiserver_encryption_config_controller_automatic_reloads_total{apiserver_id_hash="sha256:14f9",status="success"} 2
apiserver_encryption_config_controller_automatic_reload_last_timestamp_seconds{apiserver_id_hash="sha256:14f9",status="success"} 1.7e+09
apiserver_request_total{code="200"} 7
`
	if got := parseReloads(metrics); got != (reloadCounts{success: 2, failure: 1}) {
		t.Errorf("parseReloads = %+v", got)
	}
	if got := parseReloads("apiserver_request_total{code=\"200\"} 7\n"); got != (reloadCounts{}) {
		t.Errorf("before any reload: %+v", got)
	}
}

func TestRewriteSecrets(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "a"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "b"}},
	)
	n, err := RewriteSecrets(t.Context(), cs)
	if err != nil || n != 2 {
		t.Errorf("RewriteSecrets = %d, %v; want 2 Secrets", n, err)
	}
}

func TestRotateKeyWithoutEncryption(t *testing.T) {
	client := func() (kubernetes.Interface, error) {
		t.Error("client made although encryption is not enabled")
		return fake.NewClientset(), nil
	}
	err := RotateKey(t.Context(), client, secretsenc.In(t.TempDir()), time.Now(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not enabled") {
		t.Errorf("RotateKey without encryption = %v", err)
	}
}
