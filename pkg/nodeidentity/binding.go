package nodeidentity

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Where and how bindings are stored.
const (
	namespace     = "kube-system"
	secretType    = corev1.SecretType("edgek.io/node-identity")
	fieldKeyHash  = "public-key-sha256"
	fieldRole     = "role"
	roleServer    = "server"
	roleAgent     = "agent"
	labelManaged  = "app.kubernetes.io/managed-by"
	managedBy     = "edgek"
	secretSuffix  = ".node-identity.edgek"
	maxSecretName = 253
)

func secretName(node string) string { return node + secretSuffix }

// store reads and writes bindings.
type store struct{ client kubernetes.Interface }

// get returns the binding of node and its Secret, both nil if the name is free.
func (s store) get(ctx context.Context, node string) (*binding, *corev1.Secret, error) {
	sec, err := s.client.CoreV1().Secrets(namespace).Get(ctx, secretName(node), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the binding of node %s: %w", node, err)
	}
	b := &binding{
		keyHash: string(sec.Data[fieldKeyHash]),
		server:  string(sec.Data[fieldRole]) == roleServer,
		owned:   slices.ContainsFunc(sec.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "Node" }),
	}
	return b, sec, nil
}

// put binds node to keyHash (role agent) or reserves it for a server (role server),
// replacing old (its resourceVersion guards against a concurrent change).
func (s store) put(ctx context.Context, node, role, keyHash string, old *corev1.Secret) error {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      secretName(node),
			Namespace: namespace,
			Labels:    map[string]string{labelManaged: managedBy},
		},
		Type: secretType,
		Data: map[string][]byte{fieldRole: []byte(role)},
	}
	if keyHash != "" {
		sec.Data[fieldKeyHash] = []byte(keyHash)
	}
	var err error
	if old != nil {
		sec.ResourceVersion = old.ResourceVersion
		_, err = s.client.CoreV1().Secrets(namespace).Update(ctx, sec, metav1.UpdateOptions{})
	}
	if old == nil || apierrors.IsNotFound(err) { // the garbage collector may just have removed it
		sec.ResourceVersion = ""
		_, err = s.client.CoreV1().Secrets(namespace).Create(ctx, sec, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("bind node name %s: %w", node, err)
	}
	return nil
}

// own makes the Node the owner of its agent binding, so that deleting the Node releases
// the name (the garbage collector deletes the binding).
func (s store) own(ctx context.Context, node *corev1.Node) error {
	b, sec, err := s.get(ctx, node.Name)
	if err != nil || b == nil || b.server || slices.ContainsFunc(sec.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == node.UID }) {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":%q,"uid":%q}]}}`,
		sec.ResourceVersion, node.Name, node.UID)
	if _, err := s.client.CoreV1().Secrets(namespace).Patch(ctx, sec.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("make node %s the owner of its binding: %w", node.Name, err)
	}
	return nil
}

// reserve binds the names of the servers' nodes to no agent, and frees the names of
// server nodes that are gone (a server renamed).
func (s store) reserve(ctx context.Context, servers []string) error {
	for _, node := range servers {
		b, old, err := s.get(ctx, node)
		if err != nil {
			return err
		}
		if b != nil && b.server {
			continue
		}
		if err := s.put(ctx, node, roleServer, "", old); err != nil {
			return err
		}
	}
	list, err := s.client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labelManaged + "=" + managedBy,
		FieldSelector: "type=" + string(secretType),
	})
	if err != nil {
		return fmt.Errorf("list node bindings: %w", err)
	}
	for _, sec := range list.Items {
		if string(sec.Data[fieldRole]) != roleServer || slices.ContainsFunc(servers, func(n string) bool { return secretName(n) == sec.Name }) {
			continue
		}
		if err := s.client.CoreV1().Secrets(namespace).Delete(ctx, sec.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("free the former server node name of %s: %w", sec.Name, err)
		}
	}
	return nil
}
