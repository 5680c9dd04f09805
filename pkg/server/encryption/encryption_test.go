package k8s

import "testing"

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
