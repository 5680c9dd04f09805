package k8s

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BootstrapRBAC creates or updates the RBAC objects edgek's own node components need beyond
// Kubernetes' defaults: flannel runs with the kubelet's credentials and watches every Node
// (the Node authorizer only lets a node read its own).
func BootstrapRBAC(ctx context.Context, adminKubeconfig string) error {
	cs, err := adminClient(adminKubeconfig)
	if err != nil {
		return err
	}
	meta := metav1.ObjectMeta{Name: "edgek:flannel", Labels: map[string]string{"app.kubernetes.io/managed-by": "edgek"}}
	role := &rbacv1.ClusterRole{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}},
	}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: meta,
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: meta.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "system:nodes"}},
	}
	roles, bindings := cs.RbacV1().ClusterRoles(), cs.RbacV1().ClusterRoleBindings()
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		_, err = roles.Update(ctx, role, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update ClusterRole %s: %w", meta.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("create ClusterRole %s: %w", meta.Name, err)
	}
	if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRoleBinding %s: %w", meta.Name, err)
	}
	return nil
}

// LabelServerNode marks the node of a server with the control-plane role labels K3s users
// expect (the kubelet may not set node-role labels on itself: NodeRestriction refuses them).
// It waits for the node to be registered.
func LabelServerNode(ctx context.Context, adminKubeconfig, nodeName string) error {
	cs, err := adminClient(adminKubeconfig)
	if err != nil {
		return err
	}
	patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":"true","node-role.kubernetes.io/master":"true"}}}`)
	for {
		_, err := cs.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "edgek"})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("label node %s: %w", nodeName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("label node %s: %w", nodeName, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func adminClient(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return cs, nil
}
