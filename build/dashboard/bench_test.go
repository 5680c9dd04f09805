package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// manyPods is a PodList of n pods shaped like the apiserver's (managedFields, volumes,
// conditions: about 4 KB each), for the size of page an edge cluster can have.
func manyPods(n int) string {
	items := make([]map[string]any, n)
	for i := range items {
		name := fmt.Sprintf("app-%03d-7d4b9c-%05d", i/4, i)
		items[i] = map[string]any{
			"metadata": map[string]any{"name": name, "namespace": "default", "uid": fmt.Sprintf("uid-%d", i),
				"creationTimestamp": testNow.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339),
				"labels":            map[string]string{"app": fmt.Sprintf("app-%03d", i/4), "pod-template-hash": "7d4b9c"},
				"ownerReferences":   []map[string]any{{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-7d4b9c", "controller": true}},
				"managedFields": []map[string]any{{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
					"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:metadata": map[string]any{"f:labels": map[string]any{".": map[string]any{}, "f:app": map[string]any{}}},
						"f:spec": map[string]any{"f:containers": map[string]any{"k:{\"name\":\"app\"}": map[string]any{".": map[string]any{}, "f:image": map[string]any{},
							"f:imagePullPolicy": map[string]any{}, "f:name": map[string]any{}, "f:resources": map[string]any{}, "f:terminationMessagePath": map[string]any{}}}}}},
					{"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "subresource": "status", "fieldsType": "FieldsV1",
						"fieldsV1": map[string]any{"f:status": map[string]any{"f:conditions": map[string]any{"k:{\"type\":\"Ready\"}": map[string]any{}}, "f:podIP": map[string]any{}}}}}},
			"spec": map[string]any{"nodeName": fmt.Sprintf("pi-%d", i%3), "restartPolicy": "Always", "serviceAccountName": "default",
				"containers": []map[string]any{{"name": "app", "image": "registry.local/app:1.2.3", "imagePullPolicy": "IfNotPresent",
					"resources":    map[string]any{"requests": map[string]string{"cpu": "10m", "memory": "16Mi"}},
					"volumeMounts": []map[string]any{{"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}}}},
				"volumes": []map[string]any{{"name": "kube-api-access-x", "projected": map[string]any{"sources": []map[string]any{
					{"serviceAccountToken": map[string]any{"expirationSeconds": 3607, "path": "token"}},
					{"configMap": map[string]any{"name": "kube-root-ca.crt", "items": []map[string]string{{"key": "ca.crt", "path": "ca.crt"}}}}}}}},
				"tolerations": []map[string]any{{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}}},
			"status": map[string]any{"phase": "Running", "podIP": fmt.Sprintf("10.42.%d.%d", i/250, i%250+2), "hostIP": "192.168.1.50", "qosClass": "Burstable",
				"conditions": []map[string]any{{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
					{"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}},
				"containerStatuses": []map[string]any{{"name": "app", "ready": true, "restartCount": i % 3, "image": "registry.local/app:1.2.3",
					"imageID": "sha256:0123456789abcdef", "containerID": "containerd://0123456789abcdef", "started": true,
					"state": map[string]any{"running": map[string]any{"startedAt": testNow.Format(time.RFC3339)}}}}},
		}
	}
	b, err := json.Marshal(map[string]any{"kind": "PodList", "apiVersion": "v1", "metadata": map[string]any{"resourceVersion": "1"}, "items": items})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestPodsPage200(t *testing.T) {
	s, f := newTestServer(t)
	list := manyPods(200)
	f.set("GET /api/v1/namespaces/default/pods", list)
	b := login(t, s, adminToken)
	start := time.Now()
	rec := b.get("/pods")
	took := time.Since(start)
	if rec.Code != 200 {
		t.Fatalf("pods page: %d", rec.Code)
	}
	if n := strings.Count(rec.Body.String(), `data-testid="pod-row"`); n != 200 {
		t.Fatalf("%d pod rows, want 200", n)
	}
	t.Logf("pods page with 200 pods: %v (apiserver list %d KB, page %d KB)", took, len(list)>>10, rec.Body.Len()>>10)
}

func BenchmarkPodsPage200(b *testing.B) {
	s, f := newTestServer(b)
	f.set("GET /api/v1/namespaces/default/pods", manyPods(200))
	br := login(b, s, adminToken)
	b.ReportAllocs()
	for b.Loop() {
		if rec := br.get("/pods"); rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
