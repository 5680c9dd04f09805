package bootstrap

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgek-io/edgek/pkg/join"
)

func TestApply(t *testing.T) {
	old := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "edgek:node-proxier"}}
	cs := fake.NewClientset(old)
	j := Join{BootstrapToken: "abcdef.0123456789abcdef", NodeConfig: map[string]string{"cluster-cidr": "10.42.0.0/16"}}
	// Twice: a server applies it at every start.
	for range 2 {
		if err := Apply(t.Context(), cs, j); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"edgek:flannel", "edgek:node-bootstrapper", "edgek:node-autoapprove-renewal", "edgek:kube-apiserver-kubelet-client"} {
		if _, err := cs.RbacV1().ClusterRoleBindings().Get(t.Context(), name, metav1.GetOptions{}); err != nil {
			t.Errorf("ClusterRoleBinding %s: %v", name, err)
		}
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(t.Context(), old.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("ClusterRoleBinding %s of an older edgek is still there", old.Name)
	}
	cm, err := cs.CoreV1().ConfigMaps(join.ConfigMapNamespace).Get(t.Context(), join.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["cluster-cidr"] != "10.42.0.0/16" {
		t.Errorf("node ConfigMap data = %v", cm.Data)
	}
	tok, err := cs.CoreV1().Secrets("kube-system").Get(t.Context(), "bootstrap-token-abcdef", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Type != corev1.SecretTypeBootstrapToken || string(tok.Data["token-secret"]) != "0123456789abcdef" {
		t.Errorf("bootstrap token Secret = %s %v", tok.Type, tok.Data)
	}
}

func TestApplyRefusesMalformedToken(t *testing.T) {
	if err := Apply(t.Context(), fake.NewClientset(), Join{BootstrapToken: "no-dot"}); err == nil {
		t.Error("Apply with a token that is not <id>.<secret>: no error")
	}
}

func TestLabelServerNode(t *testing.T) {
	cs := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "srv"}})
	if err := LabelServerNode(t.Context(), cs, "srv"); err != nil {
		t.Fatal(err)
	}
	n, err := cs.CoreV1().Nodes().Get(t.Context(), "srv", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"} {
		if n.Labels[l] != "true" {
			t.Errorf("label %s = %q", l, n.Labels[l])
		}
	}
}
